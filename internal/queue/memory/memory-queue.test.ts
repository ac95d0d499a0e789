import { queueContract } from "../queue.contract.ts";
import { MemoryQueue, MemoryQueueState } from "./memory-queue.ts";

queueContract("memory", async (timings) => {
  const state = new MemoryQueueState();
  const open = async () => new MemoryQueue({ state, fairShare: 0.1, ...timings });
  return {
    queue: await open(),
    anotherConsumer: open,
    cleanup: async () => {},
  };
});

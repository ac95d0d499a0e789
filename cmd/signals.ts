/**
 * Resolves on the first SIGINT or SIGTERM so the caller can drain; until then it holds the process
 * open (signal listeners alone do not). A second signal means the operator is done waiting:
 * `onForce` runs and the process exits at once, as graphile-worker does.
 */
export function onShutdownSignal(onForce: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => {}, 1 << 30);
    let received = false;
    const handle = (signal: NodeJS.Signals) => {
      if (received) {
        onForce();
        process.exit(130);
      }
      received = true;
      clearInterval(keepAlive);
      resolve(signal);
    };
    process.on("SIGINT", handle);
    process.on("SIGTERM", handle);
  });
}

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Service } from "kubernetes-models/v1/Service";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { loadConfig } from "../internal/config/index.ts";
import { LANES } from "../internal/job/priority.ts";
import { kafkaTopics } from "../internal/queue/kafka/topics.ts";
import { REDIS_GROUP } from "../internal/queue/open-queue.ts";
import { queueKeys } from "../internal/queue/redis/queue-keys.ts";
import { hasCommand } from "../test/outside-tools.ts";

const root = new URL("../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  ports?: { name: string; containerPort: number }[];
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    template?: {
      metadata: { labels: Record<string, string> };
      spec: { containers: Container[]; terminationGracePeriodSeconds?: number };
    };
    triggers?: { type: string; metadata: Record<string, string> }[];
    scaleTargetRef?: { name: string };
  };
}

/** `kubectl kustomize DIR`: the overlay as the cluster would get it (kubectl is not from Debian). */
function rendered(dir: string): Manifest[] {
  const text = execFileSync("kubectl", ["kustomize", new URL(dir, root).pathname], { encoding: "utf8" });
  return parseAllDocuments(text).map((doc) => doc.toJS() as Manifest);
}

const documents = (path: string) => parseAllDocuments(read(path)).map((doc) => doc.toJS() as Manifest);

const secret = parseYaml(read("k8s/secret.example.yaml")) as { stringData: Record<string, string> };
/** The cluster's configuration, as the pods load it with the example Secret's variables. */
const config = loadConfig({
  env: { ...secret.stringData, CONFIG_FILE: "k8s/base/config.yaml" },
  cwd: new URL(".", root).pathname,
});

function envOf(deployment: Manifest): Record<string, string | undefined> {
  const [container] = deployment.spec.template?.spec.containers ?? [];
  return Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
}

/** What KEDA must read for each lane: the service's own names for its streams and topics. */
const redisStreams = Object.values(queueKeys(config.queue.queue_name, false).streams);
const kafkaLaneTopics = LANES.map((lane) => kafkaTopics(config.queue.queue_name).lanes[lane]);

describe("the split deployment's own manifests (k8s/split, k8s/split-kafka)", () => {
  const worker = documents("k8s/split/worker-deployment.yaml")[0] as Manifest;
  const [scaledObject, auth] = documents("k8s/split/worker-scaledobject.yaml") as [Manifest, Manifest];
  const kafkaScaledObject = documents("k8s/split-kafka/worker-scaledobject-kafka.yaml")[0] as Manifest;

  it("are valid against the Kubernetes and KEDA schemas", () => {
    new Deployment(worker as never).validate();
    new PodDisruptionBudget(documents("k8s/split/worker-pdb.yaml")[0] as never).validate();
    new ScaledObject(scaledObject as never).validate();
    new TriggerAuthentication(auth as never).validate();
  });

  it("run the worker as ROLE=worker with no gRPC port, and give it longer than its drain to stop", () => {
    expect(envOf(worker).ROLE).toBe("worker");
    const [container] = worker.spec.template?.spec.containers ?? [];
    expect(container?.ports?.map((p) => p.name)).toEqual(["http"]);
    const drainSeconds =
      config.worker.shutdown_timeout / 1000 + (container?.lifecycle?.preStop?.sleep?.seconds ?? 0);
    expect(worker.spec.template?.spec.terminationGracePeriodSeconds).toBeGreaterThan(drainSeconds);
    expect(envOf(parseYaml(read("k8s/split/api-deployment-patch.yaml")) as Manifest).ROLE).toBe("api");
  });

  it("scale the workers on every lane's lag, by the names the service itself uses", () => {
    expect(scaledObject.spec.scaleTargetRef?.name).toBe(worker.metadata.name);
    const redis = scaledObject.spec.triggers ?? [];
    expect(redis.map((t) => t.type)).toEqual(LANES.map(() => "redis-streams"));
    expect(redis.map((t) => t.metadata.stream)).toEqual(redisStreams);
    for (const trigger of redis) expect(trigger.metadata.consumerGroup).toBe(REDIS_GROUP);
    const kafka = kafkaScaledObject.spec.triggers ?? [];
    expect(kafka.map((t) => t.metadata.topic)).toEqual(kafkaLaneTopics);
    for (const trigger of kafka) expect(trigger.metadata.consumerGroup).toBe(config.queue.kafka.group_id);
    // Both name the Secret's keys the example shows.
    for (const key of ["REDIS_ADDRESS", "REDIS_PASSWORD", "KAFKA_BROKERS"])
      expect(secret.stringData).toHaveProperty(key);
  });
});

describe.skipIf(!hasCommand("kubectl"))(
  `the split overlays as kustomize builds them${hasCommand("kubectl") ? "" : " (skipped: kubectl is not installed; it does not come from Debian)"}`,
  () => {
    it.each(["k8s/split", "k8s/split-kafka"])(
      "%s: an api and a worker Deployment, apart in every selector",
      (dir) => {
        const all = rendered(dir);
        const of = (kind: string) => all.filter((m) => m.kind === kind);
        for (const deployment of of("Deployment")) new Deployment(deployment as never).validate();
        for (const service of of("Service")) new Service(service as never).validate();
        for (const hpa of of("HorizontalPodAutoscaler")) new HorizontalPodAutoscaler(hpa as never).validate();
        for (const pdb of of("PodDisruptionBudget")) new PodDisruptionBudget(pdb as never).validate();
        for (const scaled of of("ScaledObject")) new ScaledObject(scaled as never).validate();

        const byRole = Object.fromEntries(of("Deployment").map((d) => [envOf(d).ROLE, d]));
        expect(Object.keys(byRole).sort()).toEqual(["api", "worker"]);
        const apiLabels = byRole.api?.spec.template?.metadata.labels ?? {};
        const workerLabels = byRole.worker?.spec.template?.metadata.labels ?? {};
        const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
          Object.entries(selector).every(([k, v]) => labels[k] === v);
        // The Service sends API traffic to api pods only; each PDB covers one kind of pod.
        const service = of("Service")[0] as Manifest;
        const serviceSelector = service.spec.selector as unknown as Record<string, string>;
        expect(selects(serviceSelector, apiLabels)).toBe(true);
        expect(selects(serviceSelector, workerLabels)).toBe(false);
        const pdbs = of("PodDisruptionBudget").map((p) => p.spec.selector?.matchLabels ?? {});
        expect(pdbs.map((s) => [selects(s, apiLabels), selects(s, workerLabels)]).sort()).toEqual([
          [false, true],
          [true, false],
        ]);
        const hpa = of("HorizontalPodAutoscaler")[0] as unknown as {
          spec: { scaleTargetRef: { name: string } };
        };
        expect(hpa.spec.scaleTargetRef.name).toBe(byRole.api?.metadata.name);
        const [scaled] = of("ScaledObject");
        expect(scaled?.spec.scaleTargetRef?.name).toBe(byRole.worker?.metadata.name);
        const kafka = dir.endsWith("kafka");
        expect(scaled?.spec.triggers?.map((t) => t.type)).toEqual(
          LANES.map(() => (kafka ? "kafka" : "redis-streams")),
        );
        for (const deployment of of("Deployment"))
          expect(envOf(deployment).QUEUE_DRIVER).toBe(kafka ? "kafka" : undefined);
        expect(of("TriggerAuthentication")).toHaveLength(kafka ? 0 : 1);
      },
    );
  },
);

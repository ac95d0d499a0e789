import { existsSync, readFileSync } from "node:fs";
import { validate as lintDockerfile } from "dockerfile-utils";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Service } from "kubernetes-models/v1/Service";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { loadConfig } from "../internal/config/index.ts";
import { createMetrics } from "../internal/metrics/metrics.ts";
import { dockerfileCmd } from "../test/dockerfile.ts";
import { buildDashboard, dashboardExpressions } from "./grafana/dashboard.ts";

const root = new URL("../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}

/** The documents of the files a kustomization lists (the base lists only files). */
function manifests(dir = "k8s/base"): Manifest[] {
  const kustomization = parseYaml(read(`${dir}/kustomization.yaml`)) as { resources: string[] };
  return kustomization.resources.flatMap((file) =>
    parseAllDocuments(read(`${dir}/${file}`)).map((doc) => doc.toJS() as Manifest),
  );
}

/** k8s/base/config.yaml as the cluster would load it: with the example Secret's variables. */
function clusterConfig() {
  const secret = parseYaml(read("k8s/secret.example.yaml")) as { stringData: Record<string, string> };
  return loadConfig({
    env: { ...secret.stringData, CONFIG_FILE: "k8s/base/config.yaml" },
    cwd: new URL(".", root).pathname,
  });
}

describe("Kubernetes manifests", () => {
  const all = manifests();
  const byKind = (kind: string) => all.find((m) => m.kind === kind) as Manifest;

  it("are valid against the Kubernetes schemas", () => {
    expect(all.map((m) => m.kind).sort()).toEqual(
      [
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Service",
        "ServiceMonitor",
      ].sort(),
    );
    new Deployment(byKind("Deployment") as never).validate();
    new Service(byKind("Service") as never).validate();
    new HorizontalPodAutoscaler(byKind("HorizontalPodAutoscaler") as never).validate();
    new PodDisruptionBudget(byKind("PodDisruptionBudget") as never).validate();
  });

  it("probe the service's own endpoints and ports, and outlast its drain", () => {
    const config = clusterConfig();
    const pod = (byKind("Deployment").spec as unknown as { template: { spec: unknown } }).template.spec as {
      terminationGracePeriodSeconds: number;
      securityContext: { runAsNonRoot: boolean };
      containers: {
        ports: { name: string; containerPort: number }[];
        livenessProbe: { httpGet: { path: string } };
        readinessProbe: { httpGet: { path: string } };
        startupProbe: { httpGet: { path: string } };
        lifecycle: { preStop: { sleep: { seconds: number } } };
        securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
      }[];
    };
    const [container] = pod.containers;
    if (!container) throw new Error("no container");
    expect(container.livenessProbe.httpGet.path).toBe("/livez");
    expect(container.startupProbe.httpGet.path).toBe("/livez");
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    expect(Object.fromEntries(container.ports.map((p) => [p.name, p.containerPort]))).toEqual({
      http: config.server.port,
      grpc: config.server.grpc_port,
    });
    const drainSeconds = config.worker.shutdown_timeout / 1000 + container.lifecycle.preStop.sleep.seconds;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drainSeconds);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
  });

  it("pin the image to the package's version and set resources", () => {
    const version = (JSON.parse(read("package.json")) as { version: string }).version;
    const [container] = (
      byKind("Deployment").spec as unknown as {
        template: {
          spec: { containers: { image: string; resources: Record<string, Record<string, string>> }[] };
        };
      }
    ).template.spec.containers;
    expect(container?.image).toBe(`email-worker:${version}`);
    for (const bound of ["requests", "limits"])
      expect(Object.keys(container?.resources[bound] ?? {}).sort(), bound).toEqual(["cpu", "memory"]);
  });

  it("resolve as a kustomization: generated config mounted, every file present", () => {
    expect((parseYaml(read("k8s/kustomization.yaml")) as { resources: string[] }).resources).toEqual([
      "base",
    ]);
    const kustomization = parseYaml(read("k8s/base/kustomization.yaml")) as {
      resources: string[];
      configMapGenerator: { name: string; files: string[] }[];
    };
    for (const file of [
      ...kustomization.resources,
      ...kustomization.configMapGenerator.flatMap((g) => g.files),
    ])
      expect(existsSync(new URL(`k8s/base/${file}`, root)), file).toBe(true);
    const volumes = (
      byKind("Deployment").spec as unknown as {
        template: { spec: { volumes: { configMap?: { name: string } }[] } };
      }
    ).template.spec.volumes;
    const generated = kustomization.configMapGenerator.map((g) => g.name);
    expect(volumes.flatMap((v) => (v.configMap ? [v.configMap.name] : []))).toEqual(generated);
  });

  it("ship a config that loads with the example Secret's variables", () => {
    const config = clusterConfig();
    expect(config.queue.driver).toBe("redis");
    expect(config.email.default_provider).toBe("sendgrid");
  });

  it("carry exactly the alert rules of deploy/prometheus/alerts.yaml", () => {
    expect(byKind("PrometheusRule").spec).toEqual(parseYaml(read("deploy/prometheus/alerts.yaml")));
  });
});

describe("alert rules", () => {
  it("each have a runbook section in the README", () => {
    const readme = read("README.md");
    const rules = (
      parseYaml(read("deploy/prometheus/alerts.yaml")) as { groups: { rules: { alert: string }[] }[] }
    ).groups.flatMap((g) => g.rules.map((r) => r.alert));
    for (const alert of rules) expect(readme, alert).toContain(`#### ${alert}`);
  });
});

describe("Dockerfile", () => {
  it("lints clean, runs as a non-root user and checks liveness", () => {
    const dockerfile = read("Dockerfile");
    const problems = lintDockerfile(dockerfile).filter((d) => d.severity === 1);
    expect(problems.map((d) => d.message)).toEqual([]);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/livez/m);
    expect(dockerfile).toMatch(/^EXPOSE 8080 50060$/m);
  });
});

describe("Docker image layout", () => {
  const dockerfile = read("Dockerfile");

  it("copies only files that exist", () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      (m[1] ?? "").split(/\s+/),
    );
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources)
      expect(existsSync(new URL(source.replace(/^\.\//, ""), root)), source).toBe(true);
  });

  it("sizes the heap as npm start does", () => {
    const cmd = dockerfileCmd();
    const flags = cmd.slice(1, -1);
    expect(flags).toEqual(expect.arrayContaining([expect.stringMatching(/^--max-semi-space-size=\d+$/)]));
    const start = (JSON.parse(read("package.json")) as { scripts: { start: string } }).scripts.start;
    expect(start).toBe(`node ${flags.join(" ")} cmd/email-worker/main.ts`);
  });
});

describe("Grafana dashboard", () => {
  it("is the JSON npm run dashboard writes", () => {
    expect(JSON.parse(read("deploy/grafana/email-worker.json"))).toEqual(buildDashboard());
  });

  it("queries only metrics the service exports", () => {
    const registry = new Registry();
    createMetrics(registry);
    const exported = new Set(
      registry
        .getMetricsAsArray()
        .flatMap((m) => [m.name, `${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`]),
    );
    const used = dashboardExpressions().flatMap(
      (expr) => expr.match(/\b(?:email|queue|process|nodejs)_[a-z0-9_]+\b/g) ?? [],
    );
    expect(used.length).toBeGreaterThan(20);
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });
});

describe("docker-compose stack", () => {
  const compose = parseYaml(read("docker-compose.yml")) as {
    services: Record<string, { environment?: Record<string, string>; volumes?: string[]; build?: string }>;
  };

  /** Resolves compose's `${VAR:-default}` the way `docker compose` does with `shell` as the environment. */
  const interpolate = (env: Record<string, string>, shell: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(env).map(([k, v]) => [
        k,
        v.replace(/\$\{(\w+):-([^}]*)\}/g, (_m, name: string, fallback: string) => shell[name] || fallback),
      ]),
    );

  it.each([
    ["redis", {}],
    ["kafka", { QUEUE_DRIVER: "kafka" }],
  ] as const)(
    "configures the service on %s with settings it accepts, pointing at services that exist",
    (driver, shell) => {
      const env = interpolate(compose.services["email-worker"]?.environment ?? {}, shell);
      const config = loadConfig({ env, file: false });
      expect(config.queue.driver).toBe(driver);
      expect(config.email.default_provider).toBe("smtp");
      const hosts = [env.REDIS_URL, env.DATABASE_URL, env.DATABASE_REPLICA_URL].map(
        (url) => new URL(url ?? "").hostname,
      );
      const brokers = config.queue.kafka.brokers.map((b) => b.split(":")[0]);
      for (const host of [...hosts, ...brokers, env.SMTP_HOST])
        expect(Object.keys(compose.services)).toContain(host);
      expect(config.queue.kafka.create_topics).toBe(true);
    },
  );

  it("mounts files that exist, and points Prometheus at the service", () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(":")[0] ?? "";
        if (source.startsWith("./")) expect(existsSync(new URL(source.slice(2), root)), source).toBe(true);
      }
    }
    expect(read("deploy/compose/prometheus.yml")).toContain('targets: ["email-worker:8080"]');
  });
});

// Checks deploy/k8s offline:
//   node check_manifests.mjs MANIFEST_DIR HELPFULL_FILE
// HELPFULL_FILE holds the output of `sesh-node --helpfull`. Every object is
// validated against the Kubernetes OpenAPI schemas (kubernetes-models, ajv);
// then the StatefulSet is checked against the binary: every --flag exists,
// container ports and gRPC probes match the flags' ports and health
// services, the Services and the PodDisruptionBudget select its pods. Last,
// deliberately broken copies must be rejected. Exit status 0 when all holds.
import fs from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

const [manifestDir, helpfullFile] = process.argv.slice(2);
if (!manifestDir || !helpfullFile) {
  console.error("usage: node check_manifests.mjs MANIFEST_DIR HELPFULL_FILE");
  process.exit(2);
}
const helpfull = fs.readFileSync(helpfullFile, "utf8");

// Flags sesh-node defines: absl's --helpfull lists each as "--name (help".
const knownFlags = new Set(
  [...helpfull.matchAll(/^\s+--([A-Za-z0-9_]+) \(/gm)].map((m) => m[1]));
if (!knownFlags.has("listen")) {
  console.error("no --listen in the --helpfull text: wrong file?");
  process.exit(2);
}

function loadObjects(dir) {
  const objects = [];
  for (const file of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(dir, file), "utf8"))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
      const obj = doc.toJS();
      if (obj) objects.push({ file, obj });
    }
  }
  return objects;
}

// kubernetes-models lays classes out as <group>/<version>/<Kind> ("v1" for
// the core group).
async function schemaErrors(obj) {
  const [group, version] = obj.apiVersion.includes("/")
    ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  const modulePath = ["kubernetes-models", group, version, obj.kind].filter(Boolean).join("/");
  let Model;
  try {
    Model = (await import(modulePath))[obj.kind];
  } catch (e) {
    return [`unknown apiVersion/kind ${obj.apiVersion}/${obj.kind}`];
  }
  try {
    new Model(obj).validate();
    return [];
  } catch (e) {
    return [e.message];
  }
}

function portOf(flagValue) {
  const m = /:(\d+)$/.exec(flagValue ?? "");
  return m ? Number(m[1]) : null;
}

function flagDefault(name) {
  const re = new RegExp(`--${name} \\([^]*?default: "?([^";]*)"?;`);
  const m = re.exec(helpfull);
  return m ? m[1] : null;
}

function selects(selector, labels) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v) &&
    Object.keys(selector ?? {}).length > 0;
}

// Checks against the binary and between objects; returns problems found.
function consistencyErrors(objects) {
  const errors = [];
  const of = (kind) => objects.filter((o) => o.obj.kind === kind).map((o) => o.obj);
  const sets = of("StatefulSet");
  if (sets.length !== 1) return [`want one StatefulSet, found ${sets.length}`];
  const sts = sets[0];
  const pod = sts.spec.template;
  const podLabels = pod.metadata?.labels;
  const container = pod.spec.containers.find((c) => c.name === "sesh-node");
  if (!container) return ["no container named sesh-node"];

  const args = container.args ?? [];
  const flags = {};
  for (const arg of [...(container.command ?? []).slice(1), ...args]) {
    const m = /^--([A-Za-z0-9_]+)(?:=(.*))?$/.exec(arg);
    if (!m) { errors.push(`argument ${arg} is not a --flag`); continue; }
    if (!knownFlags.has(m[1])) errors.push(`--${m[1]} is not a sesh-node flag (--helpfull)`);
    flags[m[1]] = m[2] ?? "true";
  }
  // Every $(VAR) an argument uses is defined in the container's env.
  const env = new Set((container.env ?? []).map((e) => e.name));
  for (const arg of args) {
    for (const [, v] of arg.matchAll(/\$\(([A-Za-z0-9_]+)\)/g)) {
      if (!env.has(v)) errors.push(`${arg} uses $(${v}), which env does not define`);
    }
  }
  const podName = (container.env ?? []).find((e) => e.name === "POD_NAME");
  if (podName?.valueFrom?.fieldRef?.fieldPath !== "metadata.name") {
    errors.push("POD_NAME must come from metadata.name (the node id)");
  }
  if (flags.node_id !== "$(POD_NAME)") errors.push("--node_id must be $(POD_NAME)");
  for (const f of ["listen", "peer_listen"]) {
    if (!(flags[f] ?? "").startsWith(`$(POD_NAME).${sts.spec.serviceName}.`)) {
      errors.push(`--${f} must be the pod's name under Service ${sts.spec.serviceName}`);
    }
  }
  for (const f of ["etcd", "health_listen", "tls_cert", "tls_key", "cluster_ca", "token_file", "data_dir"]) {
    if (!flags[f]) errors.push(`--${f} is not set`);
  }
  if (flags.insecure !== undefined) errors.push("--insecure must not be set");

  // Ports: each flag's port is a containerPort of the same name, and back.
  const wantPorts = { client: portOf(flags.listen), peer: portOf(flags.peer_listen),
    health: portOf(flags.health_listen) };
  if (flags.metrics_listen) wantPorts.metrics = portOf(flags.metrics_listen);
  const ports = Object.fromEntries((container.ports ?? []).map((p) => [p.name, p.containerPort]));
  for (const [name, port] of Object.entries(wantPorts)) {
    if (port === null) errors.push(`no port in the ${name} flag`);
    else if (ports[name] !== port) errors.push(`containerPort ${name} is ${ports[name]}, flag says ${port}`);
  }
  for (const name of Object.keys(ports)) {
    if (!(name in wantPorts)) errors.push(`containerPort ${name} matches no flag`);
  }

  // Probes: gRPC, on the plaintext health listener; liveness and startup ask
  // the liveness service, readiness the default one.
  const liveness = /(sesh\.[a-z]+)\s+while\s+the\s+process\s+runs/.exec(helpfull)?.[1];
  if (!liveness) errors.push("--helpfull names no liveness health service");
  const probes = { startupProbe: liveness, livenessProbe: liveness, readinessProbe: "" };
  for (const [probe, service] of Object.entries(probes)) {
    const grpc = container[probe]?.grpc;
    if (!grpc) { errors.push(`${probe} is not a grpc probe`); continue; }
    if (grpc.port !== wantPorts.health) errors.push(`${probe} port ${grpc.port} is not --health_listen's ${wantPorts.health}`);
    if ((grpc.service ?? "") !== service) errors.push(`${probe} service "${grpc.service ?? ""}", want "${service}"`);
  }

  // The grace period covers the drain: calls in flight get
  // --drain_timeout_ms (5 s before that flag existed), then the flush.
  const drainMs = Number(flags.drain_timeout_ms ?? flagDefault("drain_timeout_ms") ?? 5000);
  const grace = pod.spec.terminationGracePeriodSeconds;
  if (!(grace >= drainMs / 1000 + 10)) errors.push(`terminationGracePeriodSeconds ${grace} < drain ${drainMs} ms + 10 s`);

  const res = container.resources ?? {};
  for (const kind of ["requests", "limits"]) {
    for (const r of ["cpu", "memory"]) if (!res[kind]?.[r]) errors.push(`resources.${kind}.${r} unset`);
  }
  const sc = { ...pod.spec.securityContext, ...container.securityContext };
  if (sc.runAsNonRoot !== true) errors.push("runAsNonRoot must be true");
  if (sc.readOnlyRootFilesystem !== true) errors.push("readOnlyRootFilesystem must be true");

  // TLS and tokens come from Secrets mounted read-only.
  const secretVolumes = new Set((pod.spec.volumes ?? []).filter((v) => v.secret).map((v) => v.name));
  const mounts = container.volumeMounts ?? [];
  for (const f of ["tls_cert", "tls_key", "cluster_ca", "token_file"]) {
    const m = mounts.find((m) => (flags[f] ?? "").startsWith(m.mountPath + "/"));
    if (!m || !secretVolumes.has(m.name) || m.readOnly !== true) {
      errors.push(`--${f} is not on a read-only Secret mount`);
    }
  }
  const claims = (sts.spec.volumeClaimTemplates ?? []).map((c) => c.metadata.name);
  const dataMount = mounts.find((m) => (flags.data_dir ?? "").startsWith(m.mountPath + "/"));
  if (!dataMount || !claims.includes(dataMount.name)) errors.push("--data_dir is not on the pod's PVC");

  // Services and the PDB select the pods; the headless one names them.
  const services = of("Service");
  const headless = services.find((s) => s.metadata.name === sts.spec.serviceName);
  if (!headless || headless.spec.clusterIP !== "None") errors.push("serviceName is not a headless Service");
  else if (headless.spec.publishNotReadyAddresses !== true) errors.push("the headless Service must publish not-ready pods (peers reach them before ready)");
  if (!services.some((s) => s !== headless && s.spec.clusterIP !== "None")) errors.push("no client Service");
  for (const s of services) {
    if (!selects(s.spec.selector, podLabels)) errors.push(`Service ${s.metadata.name} does not select the pods`);
    for (const p of s.spec.ports) {
      const target = typeof p.targetPort === "string" ? ports[p.targetPort] : p.targetPort;
      if (target === undefined) errors.push(`Service ${s.metadata.name} port ${p.name} targets no container port`);
    }
  }
  const pdbs = of("PodDisruptionBudget");
  if (pdbs.length !== 1 || pdbs[0].spec.maxUnavailable !== 1) errors.push("want one PodDisruptionBudget with maxUnavailable 1");
  else if (!selects(pdbs[0].spec.selector?.matchLabels, podLabels)) errors.push("the PodDisruptionBudget does not select the pods");
  return errors;
}

async function allErrors(objects) {
  const errors = [];
  for (const { file, obj } of objects) {
    for (const e of await schemaErrors(obj)) errors.push(`${file} ${obj.kind}/${obj.metadata?.name}: ${e}`);
  }
  return errors.concat(consistencyErrors(objects));
}

const objects = loadObjects(manifestDir);
let failed = 0;
const errors = await allErrors(objects);
for (const e of errors) console.error(`FAIL: ${e}`);
failed += errors.length;
console.log(`${objects.length} objects checked, ${errors.length} problems`);

// Broken copies must be rejected, each for its own reason.
const container = (objs) => objs.find((o) => o.obj.kind === "StatefulSet").obj.spec.template.spec.containers[0];
const sts = (objs) => objs.find((o) => o.obj.kind === "StatefulSet").obj;
const broken = [
  ["containerPort as a string", "must be integer",
    (objs) => { container(objs).ports[0].containerPort = "7700"; }],
  ["replicas as a string", "must be integer",
    (objs) => { sts(objs).spec.replicas = "three"; }],
  ["a flag sesh-node lacks", "not a sesh-node flag",
    (objs) => { container(objs).args.push("--no_such_flag=1"); }],
  ["readiness probe on the client port", "readinessProbe port",
    (objs) => { container(objs).readinessProbe.grpc.port = 7700; }],
  ["liveness probe on the readiness service", "livenessProbe service",
    (objs) => { delete container(objs).livenessProbe.grpc.service; }],
  ["PDB allowing two down", "maxUnavailable 1",
    (objs) => { objs.find((o) => o.obj.kind === "PodDisruptionBudget").obj.spec.maxUnavailable = 2; }],
];
for (const [name, want, mutate] of broken) {
  const copy = structuredClone(objects);
  mutate(copy);
  const found = (await allErrors(copy)).filter((e) => e.includes(want));
  if (found.length === 0) { console.error(`FAIL: broken copy not rejected for "${want}": ${name}`); failed++; }
  else console.log(`rejected as expected: ${name}: ${found[0]}`);
}
console.log(failed === 0 ? "PASS" : `FAIL: ${failed} problems`);
process.exit(failed === 0 ? 0 : 1);

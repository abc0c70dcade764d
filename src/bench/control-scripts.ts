// The control-plane benchmark's clients: small Node.js programs run inside the hub's namespace (the
// API is only reachable there), each printing one JSON document on stdout when it is done.

/**
 * Registers `count` nodes with `concurrency` requests in flight. Prints, in completion order, when
 * each registration was answered (ms since the first was sent) and how long it took, and the first
 * few failures. argv: url token count concurrency prefix
 */
export const REGISTER_SCRIPT = `
const [url, token, countText, concurrencyText, prefix] = process.argv.slice(1);
const count = Number(countText);
const concurrency = Number(concurrencyText);
const width = String(count - 1).length;
const completedAt = [];
const latencies = [];
const failures = [];
let next = 0;
const start = performance.now();
async function worker() {
  for (;;) {
    const i = next++;
    if (i >= count) return;
    const nodeId = prefix + String(i).padStart(width, '0');
    const body = JSON.stringify({ node_id: nodeId, description: 'rack ' + (i % 40) });
    const sent = performance.now();
    let status = 0;
    let text = '';
    try {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': token }, body });
      status = r.status;
      text = await r.text();
    } catch (err) {
      text = String(err);
    }
    const done = performance.now();
    if (status !== 201) {
      if (failures.length < 5) failures.push({ nodeId, status, text: text.slice(0, 200) });
      continue;
    }
    completedAt.push(done - start);
    latencies.push(done - sent);
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
process.stdout.write(JSON.stringify({ completedAt, latencies, failures }));
`;

/**
 * Times GET requests one after another: for each path, `warmup` untimed, then `repeat` timed.
 * Prints per path the status, the body's size and every latency (ms). argv: base token warmup
 * repeat path…
 */
export const GET_TIMING_SCRIPT = `
const [base, token, warmupText, repeatText, ...paths] = process.argv.slice(1);
const out = [];
for (const path of paths) {
  const get = async () => {
    const r = await fetch(base + path, { headers: { 'x-api-key': token } });
    const bytes = (await r.arrayBuffer()).byteLength;
    return { status: r.status, bytes };
  };
  for (let i = 0; i < Number(warmupText); i++) await get();
  const latencies = [];
  let last = { status: 0, bytes: 0 };
  for (let i = 0; i < Number(repeatText); i++) {
    const t = performance.now();
    last = await get();
    latencies.push(performance.now() - t);
  }
  out.push({ path, status: last.status, bytes: last.bytes, latencies });
}
process.stdout.write(JSON.stringify(out));
`;

// API client for the gateway under test: bearer token, keep-alive connection, per-request latency; the event
// WebSocket; and a parser for the Prometheus text at /metrics.
import http from 'node:http';
import WebSocket from 'ws';

export class ApiClient {
  constructor(baseUrl, token) {
    this.base = new URL(baseUrl);
    this.token = token;
    // One kept-alive connection per concurrent request: latency figures then exclude TCP set-up.
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  }

  /** GET path → { status, body (parsed JSON, or text), ms (request written → last byte received) }. */
  get(path, { auth = true, timeoutMs = 30_000, raw = false } = {}) {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = http.request(
        {
          host: this.base.hostname,
          port: this.base.port,
          path,
          method: 'GET',
          agent: this.agent,
          headers: auth ? { authorization: `Bearer ${this.token}` } : {},
          timeout: timeoutMs,
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const ms = performance.now() - started;
            const text = Buffer.concat(chunks).toString('utf8');
            let body = text;
            if (!raw && (res.headers['content-type'] ?? '').includes('json')) {
              try {
                body = JSON.parse(text);
              } catch {
                // leave as text
              }
            }
            resolve({ status: res.statusCode, body, ms, bytes: text.length });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** GET expecting 200 and JSON; throws otherwise. */
  async json(path, opts) {
    const res = await this.get(path, opts);
    if (res.status !== 200) throw new Error(`GET ${path} → ${res.status}: ${typeof res.body === 'string' ? res.body.slice(0, 300) : JSON.stringify(res.body).slice(0, 300)}`);
    return res.body;
  }

  async metrics() {
    const res = await this.get('/metrics', { raw: true });
    return parsePrometheus(res.body);
  }

  /** Connect to /api/ws; `onMessage({type, data})` for every event. Resolves once the hello arrived. */
  events(onMessage) {
    const url = `ws://${this.base.host}/api/ws?token=${encodeURIComponent(this.token)}`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      let greeted = false;
      ws.on('message', (data) => {
        const msg = JSON.parse(data.toString());
        if (!greeted && msg.type === 'hello') {
          greeted = true;
          resolve(ws);
          return;
        }
        onMessage(msg);
      });
      ws.on('error', (err) => {
        if (!greeted) reject(err);
      });
      ws.on('close', (code) => {
        if (!greeted) reject(new Error(`WebSocket closed before hello (${code})`));
      });
    });
  }

  close() {
    this.agent.destroy();
  }
}

/** Prometheus text → Map name → [{ labels, value }]. */
export function parsePrometheus(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const kv of m[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[kv[1]] = kv[2];
    const list = out.get(m[1]) ?? [];
    list.push({ labels, value: Number(m[4]) });
    out.set(m[1], list);
  }
  return out;
}

/**
 * se_store_write_seconds per operation: count, sum, mean and an upper bound of the p99 from the histogram
 * buckets (the smallest bucket bound holding ≥ 99 % of observations).
 */
export function storeWriteSummary(metrics, name = 'se_store_write_seconds') {
  const counts = metrics.get(`${name}_count`) ?? [];
  const sums = metrics.get(`${name}_sum`) ?? [];
  const buckets = metrics.get(`${name}_bucket`) ?? [];
  const result = {};
  for (const c of counts) {
    const op = c.labels.operation ?? c.labels.op ?? JSON.stringify(c.labels);
    const sum = sums.find((s) => JSON.stringify(s.labels) === JSON.stringify(c.labels))?.value ?? 0;
    const own = buckets
      .filter((b) => (b.labels.operation ?? b.labels.op) === op)
      .map((b) => ({ le: b.labels.le === '+Inf' ? Infinity : Number(b.labels.le), n: b.value }))
      .sort((a, b) => a.le - b.le);
    const p99 = own.find((b) => b.n >= 0.99 * c.value)?.le ?? null;
    const max = own.find((b) => b.n >= c.value)?.le ?? null;
    result[op] = { batches: c.value, totalSeconds: sum, meanMs: c.value ? (1000 * sum) / c.value : 0, p99UpperMs: p99 === null ? null : 1000 * p99, maxUpperMs: max === null ? null : 1000 * max };
  }
  return result;
}

/** Difference of two storeWriteSummary() results (what happened between them). */
export function storeWriteDelta(before, after) {
  const out = {};
  for (const [op, a] of Object.entries(after)) {
    const b = before[op] ?? { batches: 0, totalSeconds: 0 };
    const batches = a.batches - b.batches;
    const totalSeconds = a.totalSeconds - b.totalSeconds;
    if (batches > 0) out[op] = { batches, totalSeconds, meanMs: (1000 * totalSeconds) / batches };
  }
  return out;
}

export function metricValue(metrics, name, labels = {}) {
  const list = metrics.get(name) ?? [];
  return list
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/**
 * Webhook delivery of alert notifications: POST JSON, with a timeout and a few retries with exponential
 * back-off. Delivery never blocks the caller nor throws: notifications are queued (bounded; the oldest is
 * dropped and counted when a receiver is down for long), sent a few at a time, and every outcome is logged
 * and counted in /metrics.
 *
 * Retried: network errors, timeouts, 5xx and 429. Not retried: other 4xx (the receiver refuses this payload;
 * sending it again will not help).
 */
import type { Logger } from 'pino';
import type { WebhookTestResult } from './types.js';
import { robotAnswer } from './webhook-templates.js';

export interface WebhookOptions {
  timeoutMs: number;
  /** Retries after the first attempt. */
  retries: number;
  /** First retry after this long; each next one waits twice as long. */
  retryBaseMs: number;
  maxQueued?: number;
  concurrency?: number;
}

export interface WebhookObserver {
  delivery(outcome: 'delivered' | 'failed' | 'dropped'): void;
  retry(): void;
}

interface Job {
  url: string;
  body: string;
  /** A WeCom / DingTalk robot: HTTP 200 is not enough, the answer's errcode must be 0. */
  robot?: boolean;
}

const USER_AGENT = 'sharp-eyes-gateway (health alerts)';

export class WebhookSender {
  private readonly queue: Job[] = [];
  private running = 0;
  private closed = false;
  private readonly sleeping = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private readonly inFlight = new Set<AbortController>();
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly options: WebhookOptions,
    private readonly logger: Logger,
    private readonly observer?: WebhookObserver,
  ) {}

  /** Queue a notification; returns at once. */
  send(url: string, payload: unknown, robot = false): void {
    if (this.closed) return;
    const max = this.options.maxQueued ?? 10_000;
    if (this.queue.length >= max) {
      const dropped = this.queue.shift();
      this.observer?.delivery('dropped');
      this.logger.warn({ url: dropped ? redact(dropped.url) : '', queued: this.queue.length }, 'webhook queue full; oldest notification dropped');
    }
    this.queue.push({ url, body: JSON.stringify(payload), robot });
    this.pump();
  }

  /** Deliver now and report (the rule's test button): retries as configured unless `retries` says otherwise. */
  async deliver(url: string, payload: unknown, retries = this.options.retries, robot = false): Promise<WebhookTestResult> {
    return this.attempt({ url, body: JSON.stringify(payload), robot }, retries);
  }

  /** Resolves when the queue is empty and nothing is in flight (tests, shutdown). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stop: queued notifications are dropped, in-flight requests aborted, back-off waits cut short. */
  close(): void {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      this.observer?.delivery('dropped');
      this.logger.warn({ url: redact(job.url) }, 'webhook notification dropped at shutdown');
    }
    for (const controller of this.inFlight) controller.abort();
    for (const sleeper of this.sleeping) {
      clearTimeout(sleeper.timer);
      sleeper.wake();
    }
    this.sleeping.clear();
  }

  private pump(): void {
    const concurrency = this.options.concurrency ?? 4;
    while (!this.closed && this.running < concurrency && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.running++;
      void this.attempt(job, this.options.retries).finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const w of waiters) w();
        }
      });
    }
  }

  private async attempt(job: Job, retries: number): Promise<WebhookTestResult> {
    let last: WebhookTestResult = { delivered: false, error: 'not attempted', code: 'webhook.not-attempted', attempts: 0 };
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      if (attempt > 1) {
        if (this.closed) break;
        this.observer?.retry();
        await this.sleep(this.options.retryBaseMs * 2 ** (attempt - 2));
        if (this.closed) break;
      }
      const { retriable: _retriable, ...outcome } = await this.post(job);
      last = { ...outcome, attempts: attempt };
      if (outcome.delivered) {
        this.observer?.delivery('delivered');
        return last;
      }
      const retriable = _retriable ?? (outcome.status === undefined || outcome.status >= 500 || outcome.status === 429);
      if (!retriable) break;
    }
    this.observer?.delivery('failed');
    this.logger.warn({ url: redact(job.url), status: last.status, error: last.error, attempts: last.attempts }, 'webhook delivery failed');
    return last;
  }

  private async post(job: Job): Promise<WebhookTestResult & { retriable?: boolean }> {
    const controller = new AbortController();
    this.inFlight.add(controller);
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
    try {
      const res = await fetch(job.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': USER_AGENT },
        body: job.body,
        signal: controller.signal,
        redirect: 'manual',
      });
      // Our receivers' bodies are not needed, but must be consumed so the connection can be reused; a robot's
      // says whether it took the message.
      const text = await res.text().catch(() => '');
      if (res.status >= 200 && res.status < 300) {
        if (!job.robot) return { delivered: true, status: res.status };
        const answer = robotAnswer(text);
        return answer.delivered ? { delivered: true, status: res.status } : { delivered: false, status: res.status, error: answer.error, retriable: answer.retriable };
      }
      return { delivered: false, status: res.status, error: `HTTP ${res.status}`, code: 'webhook.http-status', params: { status: res.status } };
    } catch (err) {
      if (controller.signal.aborted && controller.signal.reason instanceof Error) {
        return { delivered: false, error: controller.signal.reason.message, code: 'webhook.timeout', params: { ms: this.options.timeoutMs } };
      }
      return { delivered: false, error: describe(err), ...failureCode(err, job.url) };
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.sleeping.delete(sleeper);
          resolve();
        }, ms),
        wake: resolve,
      };
      sleeper.timer.unref();
      this.sleeping.add(sleeper);
    });
  }
}

/**
 * Why fetch() failed, as a code for UIs: fetch refuses the ports browsers block ("bad port": 1, 6000, …),
 * unparsable URLs, unknown hosts and refused connections before or instead of an HTTP answer.
 */
function failureCode(err: unknown, url: string): { code: string; params?: Record<string, string | number> } {
  const cause = (err as Error & { cause?: { code?: unknown; message?: unknown } }).cause;
  const causeCode = typeof cause?.code === 'string' ? cause.code : '';
  const causeMessage = typeof cause?.message === 'string' ? cause.message : '';
  let port = '';
  try {
    const u = new URL(url);
    port = u.port || (u.protocol === 'https:' ? '443' : '80');
  } catch {
    return { code: 'webhook.bad-url' };
  }
  if (causeCode === 'ERR_INVALID_URL') return { code: 'webhook.bad-url' };
  if (causeMessage === 'bad port') return { code: 'webhook.blocked-port', params: { port } };
  if (causeCode === 'ENOTFOUND' || causeCode === 'EAI_AGAIN') return { code: 'webhook.unknown-host' };
  if (causeCode === 'ECONNREFUSED') return { code: 'webhook.refused', params: { port } };
  return { code: 'webhook.network' };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    if (cause instanceof Error && cause.message) return `${err.message}: ${cause.message}`;
    return err.message;
  }
  return String(err);
}

/** Webhook URLs may carry a token in the query or userinfo; logs get the origin and path only. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

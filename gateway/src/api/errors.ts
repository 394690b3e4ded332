/**
 * Error mapping of the HTTP API: every error leaves as `{ error, message, code, params?, field? }`. `code` and
 * `params` say what went wrong for a UI to render in its own language (the web's catalogues key them as
 * `error.<code>`); `message` says it in English for integrators and logs. Codes a domain error does not name
 * are derived from the status (`not-found`, `forbidden`, …); schema errors are `validation.<kind>` with the
 * field (and the allowed values or limit).
 *
 * Schema validation errors become the domain's `ValidationError` (via `schemaErrorFormatter`) so that they
 * and the services' own validation errors take one path and always name the offending field, e.g.
 * "body.speed" or "querystring.limit".
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { ConflictError, ForbiddenError, NotFoundError, TooManyRequestsError, UnprocessableError, UpstreamError, ValidationError, type DomainError, type ErrorCode } from '../domain/services.js';
import { PlayError } from '../domain/streams/play-error.js';

/** Where Fastify found invalid input (mirrors Fastify's SchemaErrorDataVar, which it does not export). */
export type RequestPart = 'body' | 'headers' | 'params' | 'querystring';

export interface ErrorBody {
  error: string;
  message: string;
  /** Stable, for UIs: their catalogues key it as `error.<code>`. */
  code: string;
  params?: Record<string, string | number>;
  field?: string;
}

/** The code an error without its own gets, by HTTP status. */
const CODE_BY_STATUS: Record<number, string> = {
  400: 'validation.invalid',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  409: 'conflict',
  413: 'too-large',
  415: 'unsupported-media-type',
  422: 'unprocessable',
  429: 'rate-limited',
  500: 'internal',
  502: 'upstream',
  503: 'unavailable',
};

export function errorBody(statusCode: number, message: string, field?: string, detail?: ErrorCode): ErrorBody {
  const body: ErrorBody = { error: STATUS_CODES[statusCode] ?? 'Error', message, code: detail?.code ?? CODE_BY_STATUS[statusCode] ?? `http-${statusCode}` };
  const params = { ...(field !== undefined ? { field } : {}), ...(detail?.params ?? {}) };
  if (Object.keys(params).length > 0) body.params = params;
  if (field !== undefined) body.field = field;
  return body;
}

/** A domain error's body: its own code and params, else the status's. */
function domainErrorBody(statusCode: number, error: DomainError, field?: string): ErrorBody {
  return errorBody(statusCode, error.message, field, error.detail);
}

/** "/a/0/b" → "a.0.b" (JSON pointer of Ajv errors → dotted field path, unescaping ~1 and ~0). */
function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .filter((part) => part !== '')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/** The input a single Ajv error is about, prefixed with where it was (body, querystring, params, headers). */
export function fieldOfSchemaError(error: FastifySchemaValidationError, context: string): string {
  const params = error.params as Record<string, unknown>;
  let path = pointerToPath(error.instancePath);
  // Errors about a property that is absent or unexpected sit on the parent object: name the property itself.
  const child =
    error.keyword === 'required'
      ? params.missingProperty
      : error.keyword === 'additionalProperties'
        ? params.additionalProperty
        : error.keyword === 'discriminator'
          ? params.tag
          : undefined;
  if (typeof child === 'string' && child !== '') path = path === '' ? child : `${path}.${child}`;
  return path === '' ? context : `${context}.${path}`;
}

/** The code and params of a schema error, for the UI: `validation.required` { field }, `validation.enum` { field, allowed }… */
function codeOfSchemaError(error: FastifySchemaValidationError, field: string): ErrorCode {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { code: 'validation.required', params: { field } };
    case 'additionalProperties':
      return { code: 'validation.not-allowed', params: { field } };
    case 'enum':
      return { code: 'validation.enum', params: { field, allowed: Array.isArray(params.allowedValues) ? params.allowedValues.join(', ') : '' } };
    case 'pattern':
    case 'format':
      return { code: 'validation.format', params: { field } };
    case 'type':
      return { code: 'validation.type', params: { field, type: String(params.type ?? '') } };
    case 'minLength':
    case 'maxLength':
    case 'minimum':
    case 'maximum':
    case 'minItems':
    case 'maxItems':
      return { code: `validation.${error.keyword}`, params: { field, limit: Number(params.limit ?? 0) } };
    default:
      return { code: 'validation.invalid', params: { field } };
  }
}

function describeSchemaError(error: FastifySchemaValidationError, field: string): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${field} is required`;
    case 'additionalProperties':
      return `${field} is not allowed here`;
    case 'discriminator':
      return params.error === 'mapping'
        ? `${field} must be one of the known values (got ${JSON.stringify(params.tagValue)})`
        : `${field} must be a string`;
    case 'enum': {
      const allowed = params.allowedValues;
      return Array.isArray(allowed) ? `${field} must be one of: ${allowed.join(', ')}` : `${field} ${error.message ?? 'is invalid'}`;
    }
    case 'pattern':
      return `${field} has an invalid format`;
    default:
      return `${field} ${error.message ?? 'is invalid'}`;
  }
}

/** Fastify `schemaErrorFormatter`: the first Ajv error, as a `ValidationError` naming its field. */
export function schemaErrorFormatter(errors: FastifySchemaValidationError[], dataVar: RequestPart): Error {
  const first = errors[0];
  if (!first) return new ValidationError(`${dataVar} is invalid`, dataVar);
  const field = fieldOfSchemaError(first, dataVar);
  return new ValidationError(describeSchemaError(first, field), field, codeOfSchemaError(first, field));
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && typeof (error as FastifyError).code === 'string' && (error as FastifyError).code.startsWith('FST_');
}

/** Root error handler: domain errors to their codes, client errors of Fastify as they are, the rest to 500. */
export function handleApiError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  if (error instanceof ValidationError) {
    void reply.code(400).send(domainErrorBody(400, error, error.field));
    return;
  }
  if (error instanceof NotFoundError) {
    void reply.code(404).send(domainErrorBody(404, error));
    return;
  }
  if (error instanceof ConflictError) {
    void reply.code(409).send({ ...error.details, ...domainErrorBody(409, error) });
    return;
  }
  if (error instanceof ForbiddenError) {
    void reply.code(403).send(domainErrorBody(403, error));
    return;
  }
  if (error instanceof TooManyRequestsError) {
    const detail = error.detail ?? { code: 'rate-limited', params: { retryAfterSec: error.retryAfterSec } };
    void reply.code(429).header('retry-after', String(error.retryAfterSec)).send(errorBody(429, error.message, undefined, detail));
    return;
  }
  if (error instanceof PlayError) {
    // Which step of a play failed and what to check: never a bare "timeout".
    request.log.warn({ step: error.step, sipStatus: error.sipStatus, message: error.message }, 'play failed');
    const params: Record<string, string | number> = { step: error.step, ...(error.sipStatus ? { sipStatus: error.sipStatus } : {}) };
    void reply.code(error.statusCode).send({ ...errorBody(error.statusCode, error.message, undefined, { code: `play.${error.step}`, params }), ...error.toJSON() });
    return;
  }
  if (error instanceof UnprocessableError) {
    void reply.code(422).send({ ...domainErrorBody(422, error), reason: error.reason });
    return;
  }
  if (error instanceof UpstreamError) {
    request.log.warn({ err: error }, 'upstream failure');
    void reply.code(502).send(domainErrorBody(502, error));
    return;
  }
  if (isFastifyError(error) && error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    // Body parsing problems (bad JSON, wrong content type, too large) are about the body as a whole.
    const field = error.code.startsWith('FST_ERR_CTP') ? 'body' : undefined;
    void reply.code(error.statusCode).send(errorBody(error.statusCode, error.message, field));
    return;
  }
  request.log.error({ err: error }, 'unhandled error in API request');
  void reply.code(500).send(errorBody(500, 'internal error; see the gateway log'));
}

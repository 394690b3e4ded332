/**
 * Error mapping of the HTTP API: every error leaves as `{ error, message, field? }`.
 *
 * Schema validation errors become the domain's `ValidationError` (via `schemaErrorFormatter`) so that they
 * and the services' own validation errors take one path and always name the offending field, e.g.
 * "body.speed" or "querystring.limit".
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { ConflictError, ForbiddenError, NotFoundError, TooManyRequestsError, UpstreamError, ValidationError } from '../domain/services.js';
import { PlayError } from '../domain/streams/play-error.js';

/** Where Fastify found invalid input (mirrors Fastify's SchemaErrorDataVar, which it does not export). */
export type RequestPart = 'body' | 'headers' | 'params' | 'querystring';

export interface ErrorBody {
  error: string;
  message: string;
  field?: string;
}

export function errorBody(statusCode: number, message: string, field?: string): ErrorBody {
  const body: ErrorBody = { error: STATUS_CODES[statusCode] ?? 'Error', message };
  if (field !== undefined) body.field = field;
  return body;
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
  return new ValidationError(describeSchemaError(first, field), field);
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && typeof (error as FastifyError).code === 'string' && (error as FastifyError).code.startsWith('FST_');
}

/** Root error handler: domain errors to their codes, client errors of Fastify as they are, the rest to 500. */
export function handleApiError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  if (error instanceof ValidationError) {
    void reply.code(400).send(errorBody(400, error.message, error.field));
    return;
  }
  if (error instanceof NotFoundError) {
    void reply.code(404).send(errorBody(404, error.message));
    return;
  }
  if (error instanceof ConflictError) {
    void reply.code(409).send({ ...error.details, ...errorBody(409, error.message) });
    return;
  }
  if (error instanceof ForbiddenError) {
    void reply.code(403).send(errorBody(403, error.message));
    return;
  }
  if (error instanceof TooManyRequestsError) {
    void reply.code(429).header('retry-after', String(error.retryAfterSec)).send(errorBody(429, error.message));
    return;
  }
  if (error instanceof PlayError) {
    // Which step of a play failed and what to check: never a bare "timeout".
    request.log.warn({ step: error.step, sipStatus: error.sipStatus, message: error.message }, 'play failed');
    void reply.code(error.statusCode).send({ ...errorBody(error.statusCode, error.message), ...error.toJSON() });
    return;
  }
  if (error instanceof UpstreamError) {
    request.log.warn({ err: error }, 'upstream failure');
    void reply.code(502).send(errorBody(502, error.message));
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

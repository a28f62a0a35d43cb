import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../log/logger.js';
import { InvalidPriorityError, PreconditionFailedError } from '../../priorities/store.js';
import { ApiError, OCPI_STATUS, failure, type Envelope, type OcpiStatusCode } from './envelope.js';
import { describeValidation } from '../validation-message.js';

const SERVER_ERROR_MESSAGE = 'internal server error (see the module log)';

interface ErrorAnswer {
  status: number;
  code: OcpiStatusCode;
  message: string;
  headers?: Readonly<Record<string, string>>;
}

/** Maps anything thrown on the way (our handlers, fastify's parsers, the store) to status and envelope. */
export function answerFor(error: FastifyError | Error, request: FastifyRequest, bodyLimit: number): ErrorAnswer {
  if (error instanceof ApiError) return { status: error.httpStatus, code: error.ocpiCode, message: error.message, headers: error.headers };
  if (error instanceof PreconditionFailedError) return { status: 412, code: OCPI_STATUS.clientError, message: error.message };
  if (error instanceof InvalidPriorityError) return { status: 400, code: OCPI_STATUS.invalidParameters, message: error.message };
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const part = fastifyError.validationContext ?? 'body';
    const root = part === 'body' ? request.body : part === 'querystring' ? request.query : part === 'params' ? request.params : request.headers;
    return { status: 400, code: OCPI_STATUS.invalidParameters, message: describeValidation(fastifyError.validation, part, root) };
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: OCPI_STATUS.invalidParameters, message: 'the request body is not valid JSON' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: OCPI_STATUS.invalidParameters, message: 'the request body is empty; expected a JSON object' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: OCPI_STATUS.invalidParameters, message: `the request body exceeds ${bodyLimit} bytes` };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: OCPI_STATUS.invalidParameters, message: 'Content-Length does not match the request body' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const type = request.headers['content-type'];
      return {
        status: 415,
        code: OCPI_STATUS.clientError,
        message: `${type === undefined ? 'a request body without Content-Type' : `Content-Type ${JSON.stringify(type)}`} is not supported; send application/json`,
      };
    }
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) return { status, code: OCPI_STATUS.clientError, message: error.message };
  return { status: 500, code: OCPI_STATUS.serverError, message: SERVER_ERROR_MESSAGE };
}

/**
 * Errors fastify's router raises before any hook runs (a malformed or over-long path); without this
 * they answer in fastify's own format instead of the envelope. Passed as the `frameworkErrors` option.
 */
export function frameworkErrorHandler(log: Logger) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : (error.statusCode ?? 400);
    const message =
      error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? `a path segment of ${request.method} ${request.url.slice(0, 60)}… is longer than the router accepts`
        : error.code === 'FST_ERR_BAD_URL'
          ? 'the request path is not a valid URL path'
          : 'the request could not be routed';
    log.debug({ status, code: error.code, method: request.method }, 'request rejected by the router');
    void reply.code(status >= 400 && status < 500 ? status : 400).send(failure(OCPI_STATUS.clientError, message));
  };
}

/** Every error path, fastify's own included, answers with the OCPI envelope. */
export function installErrorHandling(app: FastifyInstance, log: Logger, bodyLimit: number): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    let answer: ErrorAnswer;
    try {
      answer = answerFor(error, request, bodyLimit);
    } catch (describeError) {
      // Describing the error failed (it should not): still an envelope and a log line, never fastify's bare 500.
      log.error({ err: error, describeError, method: request.method, route: request.routeOptions.url }, 'could not describe a request error');
      answer = { status: 500, code: OCPI_STATUS.serverError, message: SERVER_ERROR_MESSAGE };
    }
    if (answer.status >= 500) log.error({ err: error, method: request.method, route: request.routeOptions.url }, 'request failed');
    else log.debug({ status: answer.status, message: answer.message, method: request.method, url: request.url }, 'request rejected');
    if (reply.sent || reply.raw.headersSent) return;
    const body: Envelope<null> = failure(answer.code, answer.message);
    reply
      .code(answer.status)
      .headers({ ...answer.headers })
      .send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    reply.code(404).send(failure(OCPI_STATUS.clientError, `no route for ${request.method} ${path}`));
  });
}

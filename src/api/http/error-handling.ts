import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../../log/logger.js';
import { InvalidPriorityError, PreconditionFailedError } from '../../priorities/store.js';
import { ApiError, OCPI_STATUS, failure, type Envelope, type OcpiStatusCode } from './envelope.js';
import { describeValidation } from './validation-message.js';

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
  return { status: 500, code: OCPI_STATUS.serverError, message: 'internal server error (see the module log)' };
}

/** Every error path, fastify's own included, answers with the OCPI envelope. */
export function installErrorHandling(app: FastifyInstance, log: Logger, bodyLimit: number): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const answer = answerFor(error, request, bodyLimit);
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

import type { FastifyInstance } from 'fastify';
import { jsonShapeViolation, REQUEST_SHAPE_LIMITS } from '../../validation/json-shape.js';
import { invalidParameters } from './envelope.js';

/**
 * fastify's own JSON parser (prototype-poisoning checks included) behind a shape check on the raw
 * text: a body nested too deep or with too many keys gets a precise 400 before anything recurses
 * over it (validation, error messages, serializers).
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    const violation = jsonShapeViolation(text, REQUEST_SHAPE_LIMITS);
    if (violation !== undefined) {
      done(invalidParameters(`the request body ${violation}`), undefined);
      return;
    }
    parse(request, text, done);
  });
}

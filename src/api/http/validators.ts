import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import { compileValidator } from '../validation.js';

export const validatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) => compileValidator(schema as object, httpPart);

// OCPI 2.2.1 response conventions (as GreenFlux uses them): every body is an envelope whose
// status_code tells a client more than the HTTP status alone.

export const OCPI_STATUS = {
  success: 1000,
  clientError: 2000,
  invalidParameters: 2001,
  unknownLocation: 2003,
  serverError: 3000,
} as const;

export type OcpiStatusCode = (typeof OCPI_STATUS)[keyof typeof OCPI_STATUS];

export const OCPI_STATUS_CODES: readonly OcpiStatusCode[] = Object.values(OCPI_STATUS);

export interface Envelope<T> {
  data: T;
  status_code: OcpiStatusCode;
  status_message: string;
  timestamp: string;
}

export function success<T>(data: T, message = 'Success'): Envelope<T> {
  return { data, status_code: OCPI_STATUS.success, status_message: message, timestamp: new Date().toISOString() };
}

export function failure(code: OcpiStatusCode, message: string): Envelope<null> {
  return { data: null, status_code: code, status_message: message, timestamp: new Date().toISOString() };
}

/** Thrown by handlers and hooks; the error handler turns it into an envelope with this HTTP status. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly httpStatus: number,
    readonly ocpiCode: OcpiStatusCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export function invalidParameters(message: string): ApiError {
  return new ApiError(400, OCPI_STATUS.invalidParameters, message);
}

/** Unknown EVSE, connector or station identifier: OCPI's "unknown location". */
export function unknownLocation(message: string): ApiError {
  return new ApiError(404, OCPI_STATUS.unknownLocation, message);
}

/** A resolution failure: 409 when the identifier names several EVSEs at once, else unknown location. */
export function unresolved(code: string, message: string): ApiError {
  return code === 'ambiguous_evse_id' ? new ApiError(409, OCPI_STATUS.clientError, message) : unknownLocation(message);
}

export function notFound(message: string): ApiError {
  return new ApiError(404, OCPI_STATUS.clientError, message);
}

export function preconditionFailed(message: string): ApiError {
  return new ApiError(412, OCPI_STATUS.clientError, message);
}

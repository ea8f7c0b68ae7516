import { Catch, HttpException, InternalServerErrorException, Logger } from '@nestjs/common';
import type { ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { maskText } from './personal-data';

/**
 * What Nest's default handler would log for an unexpected error, minus what must not be logged.
 * Nest prints the whole error object, and a database error carries the query's parameters (a
 * dossier's owner, phone, ID number; a session token): a PostgreSQL restart put them in the logs.
 * Here an unexpected error is logged as its type, message and stack only, masked; the client
 * gets the usual 500.
 */
@Catch()
export class SafeExceptionsFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('ExceptionsHandler');

  override catch(exception: unknown, host: ArgumentsHost): void {
    if (exception instanceof HttpException) {
      super.catch(exception, host);
      return;
    }
    this.logger.error(describeSafely(exception));
    super.catch(new InternalServerErrorException(), host);
  }
}

/** An error as one masked line of type and message, then its stack frames (no own properties). */
export function describeSafely(error: unknown): string {
  if (!(error instanceof Error)) return maskText(`non-error thrown: ${typeof error}`);
  const frames = (error.stack ?? '').split('\n').slice(1).join('\n');
  return maskText(`${error.name}: ${error.message}${frames ? `\n${frames}` : ''}`);
}

import { Catch, HttpException } from '@nestjs/common';
import type { ArgumentsHost, ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { SafeExceptionsFilter } from './safe-exceptions.filter';

/** An HTTP error as RFC 9457 problem details: the status, what went wrong, and why. */
export class Problem extends HttpException {
  constructor(status: number, title: string, detail: string, extra: Record<string, unknown> = {}) {
    super({ type: 'about:blank', title, status, detail, ...extra }, status);
  }
}

/**
 * Every HTTP error of an API as application/problem+json (Nest's own errors too: a 404, a body
 * that is not JSON or too large); an unexpected error is logged safely and answered 500.
 * `signInPage`, for a service with browser pages: where a page request without a session goes.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(
    private readonly fallback: SafeExceptionsFilter,
    private readonly signInPage?: { path: string; apiPrefix: string },
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (!(exception instanceof HttpException)) {
      this.fallback.catch(exception, host);
      return;
    }
    const http = host.switchToHttp();
    const res = http.getResponse<Response>();
    const req = http.getRequest<Request>();
    const status = exception.getStatus();
    const body = exception.getResponse();
    // A browser on a dashboard page without a session goes to the sign-in page.
    if (
      this.signInPage &&
      status === 401 &&
      req.method === 'GET' &&
      !req.path.startsWith(this.signInPage.apiPrefix) &&
      (req.headers.accept ?? '').includes('text/html')
    ) {
      res.redirect(303, this.signInPage.path);
      return;
    }
    const problem =
      typeof body === 'object' && body !== null && 'type' in body
        ? body
        : {
            type: 'about:blank',
            title: exception.name.replace(/Exception$/, ''),
            status,
            detail: typeof body === 'string' ? body : messageOf(body, exception.message),
          };
    res.status(status).type('application/problem+json').send(JSON.stringify(problem));
  }
}

/** Nest's own error bodies say what went wrong in `message` (a string or a list of them). */
function messageOf(body: object, fallback: string): string {
  const m = (body as { message?: unknown }).message;
  if (typeof m === 'string') return m;
  if (Array.isArray(m)) return m.map(String).join('; ');
  return fallback;
}

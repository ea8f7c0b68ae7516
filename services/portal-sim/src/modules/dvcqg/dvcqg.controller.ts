import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { DvcqgService } from './dvcqg.service';
import type { DvcqgAnswer } from './dvcqg.service';

/** The National Public Service Portal's dossier-sync endpoints (wire shapes: docs/domain.md §1). */
@Controller('dvcqg')
export class DvcqgController {
  constructor(private readonly dvcqg: DvcqgService) {}

  @Post('auth')
  @HttpCode(200)
  login(@Body() body: { username?: unknown; password?: unknown }): Promise<DvcqgAnswer> {
    return this.dvcqg.login(body?.username, body?.password);
  }

  /** Every operation: {session, madonvi, service, ...}; answers HTTP 200 with error_code. */
  @Post('api')
  @HttpCode(200)
  call(@Body() body: Record<string, unknown>): Promise<DvcqgAnswer> {
    return this.dvcqg.call(body ?? {});
  }
}

import { Body, Controller, Headers, HttpCode, HttpException, Post } from '@nestjs/common';
import { TokenStore } from '../auth/token.store';
import { PortalSimSettings } from '../../config/portal-sim.settings';
import { CivilStatusService } from './civil-status.service';
import type { CivilAnswer, CivilResults } from './civil-status.service';

/** The civil-status registry (hộ tịch): OAuth-style token, then NhanDKHT and LayKetQua. */
@Controller('hotich')
export class CivilStatusController {
  constructor(
    private readonly civil: CivilStatusService,
    private readonly tokens: TokenStore,
    private readonly settings: PortalSimSettings,
  ) {}

  @Post('token')
  @HttpCode(200)
  async token(
    @Body() body: { client_id?: string; client_secret?: string },
  ): Promise<{ access_token: string; token_type: string; expires_in: number }> {
    const secret = this.settings.civilClients.get(String(body?.client_id));
    if (secret === undefined || secret !== body?.client_secret) {
      throw new HttpException(
        { error: 'invalid_client', error_description: 'Sai thông tin ứng dụng' },
        401,
      );
    }
    const { token, expiresIn } = await this.tokens.issue(
      'civil-status',
      String(body.client_id),
      this.settings.sessionTtlSeconds,
    );
    return { access_token: token, token_type: 'Bearer', expires_in: expiresIn };
  }

  @Post('NhanDKHT')
  @HttpCode(200)
  async submit(
    @Headers('authorization') auth: string | undefined,
    @Body() body: Record<string, unknown>,
  ): Promise<CivilAnswer> {
    await this.authorize(auth);
    return this.civil.submit(body ?? {});
  }

  /** Modelled: no public integration shows the amendment exchange (docs/domain.md). */
  @Post('CaiChinhDKHT')
  @HttpCode(200)
  async amend(
    @Headers('authorization') auth: string | undefined,
    @Body() body: Record<string, unknown>,
  ): Promise<CivilAnswer> {
    await this.authorize(auth);
    return this.civil.amend(body ?? {});
  }

  @Post('LayKetQua')
  @HttpCode(200)
  async results(
    @Headers('authorization') auth: string | undefined,
    @Body() body: Record<string, unknown>,
  ): Promise<CivilResults> {
    await this.authorize(auth);
    return this.civil.results(body ?? {});
  }

  private async authorize(auth: string | undefined): Promise<void> {
    if (!(await this.tokens.bearerPrincipal('civil-status', auth))) {
      throw new HttpException(
        {
          status: '0',
          errorCode: '401',
          errorDescription: 'Token không hợp lệ hoặc đã hết hạn',
        },
        401,
      );
    }
  }
}

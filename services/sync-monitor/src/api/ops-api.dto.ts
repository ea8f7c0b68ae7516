import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

// The ops API's request and response bodies, for its OpenAPI document
// (contracts/openapi/sync-monitor.openapi.yaml). Requests are checked by the command contract
// (ops.commands.v1) and by the controller, which name the field and the rule when one is wrong.

export class SignInBody {
  @ApiProperty({ example: 'hue' }) username!: string;
  @ApiProperty({ example: 'hue-demo', format: 'password' }) password!: string;
}

export class RoleView {
  @ApiProperty({ enum: ['operator', 'viewer'] }) kind!: 'operator' | 'viewer';
  @ApiProperty({
    oneOf: [
      { type: 'string', enum: ['*'] },
      { type: 'array', items: { type: 'string', pattern: '^[0-9]{2}$' } },
    ],
    description: "the provinces the role sees and acts on ('*': the whole country)",
  })
  provinces!: '*' | string[];
}

export class SessionView {
  @ApiProperty({ description: 'bearer token (JWT, HS256)' }) token!: string;
  @ApiProperty() username!: string;
  @ApiProperty({ type: RoleView }) role!: RoleView;
}

export class ScopeBody {
  @ApiPropertyOptional({ enum: ['dossier', 'civil-status', 'land'] }) domain?: string;
  @ApiPropertyOptional({
    type: [String],
    description: '5-digit commune codes; required for a province role, all inside its provinces',
  })
  communeCodes?: string[];
  @ApiPropertyOptional({ type: [String] }) keys?: string[];
  @ApiPropertyOptional({
    type: [String],
    enum: ['dossier', 'birth', 'death', 'marriage', 'land-registration'],
  })
  entityTypes?: string[];
  @ApiPropertyOptional({ format: 'date-time' }) from?: string;
  @ApiPropertyOptional({ format: 'date-time' }) to?: string;
}

export class ReconcileBody {
  @ApiProperty({ type: ScopeBody }) scope!: ScopeBody;
  @ApiProperty({ description: 'report only; repair nothing' }) dryRun!: boolean;
  @ApiProperty({ minLength: 10, example: 'Đối soát định kỳ cuối ngày' }) reason!: string;
  @ApiPropertyOptional({ minimum: 0, exclusiveMinimum: true, maximum: 10000 })
  ratePerSecond?: number;
  @ApiPropertyOptional({ minimum: 1 }) sampleSize?: number;
}

export class ResyncBody {
  @ApiProperty({ type: ScopeBody }) scope!: ScopeBody;
  @ApiProperty({ minLength: 10, example: 'Cổng DVCQG báo thiếu hồ sơ ngày 02/07, đồng bộ lại' })
  reason!: string;
}

export class CommunesActionBody {
  @ApiProperty({
    type: [String],
    description: '5-digit commune codes, all inside your provinces',
  })
  communeCodes!: string[];
  @ApiPropertyOptional({
    enum: ['dossier', 'civil-status', 'land'],
    description: 'one domain; every domain when left out',
  })
  domain?: string;
  @ApiProperty({ minLength: 10, example: 'Xã đang chỉnh lý dữ liệu thửa đất' }) reason!: string;
}

export class PausedCommuneView {
  @ApiProperty() communeCode!: string;
  @ApiProperty() domain!: string;
  @ApiProperty({ format: 'date-time' }) since!: string;
  @ApiProperty() by!: string;
  @ApiProperty() reason!: string;
}

export class PausedCommunesView {
  @ApiProperty({ type: [PausedCommuneView] }) communes!: PausedCommuneView[];
}

export class GroupActionBody {
  @ApiProperty({
    pattern: '^[0-9a-f]{64}$',
    description: 'a dead-letter group (GET /api/dead-letters)',
  })
  signature!: string;
  @ApiProperty({ minLength: 10 }) reason!: string;
}

export class CommandAccepted {
  @ApiProperty({ format: 'uuid' }) commandId!: string;
}

export class ReplayAccepted extends CommandAccepted {
  @ApiProperty({ description: 'dead letters named in the command' }) letters!: number;
}

export class Discarded {
  @ApiProperty() discarded!: number;
}

export class ProblemView {
  @ApiProperty({ example: 'about:blank' }) type!: string;
  @ApiProperty() title!: string;
  @ApiProperty() status!: number;
  @ApiProperty({ description: 'what is wrong: the field and the rule' }) detail!: string;
}

export class TargetActionBody {
  @ApiProperty({ enum: ['dvcqg', 'civil-status-registry', 'land-registry'] }) target!: string;
  @ApiProperty({ minLength: 10, example: 'Cổng DVCQG bảo trì theo thông báo' }) reason!: string;
}

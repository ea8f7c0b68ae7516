import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Sessions } from '../auth/sessions';
import { OpsCommandsPublisher } from '../commands/ops-commands.publisher';
import { ReadModelQueries } from '../read-model/read-model.queries';
import { ACCOUNTS } from '../tokens';
import { OpsApiController } from './ops-api.controller';

/** The ops API's controller alone: its document needs its routes and types, not a database. */
@Module({
  controllers: [OpsApiController],
  providers: [
    { provide: ReadModelQueries, useValue: {} },
    { provide: Sessions, useValue: {} },
    { provide: OpsCommandsPublisher, useValue: {} },
    { provide: ACCOUNTS, useValue: [] },
  ],
})
class OpsApiDocumentModule {}

/**
 * The ops API's OpenAPI document, generated from the code (@nestjs/swagger): what
 * contracts/openapi/sync-monitor.openapi.yaml must hold (a test compares them).
 */
export async function opsApiDocument(): Promise<OpenAPIObject> {
  const app = await NestFactory.create(OpsApiDocumentModule, { logger: false });
  try {
    return SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Lienthong ops API (sync-monitor)')
        .setDescription(
          "What provincial IT and ops teams run the hub with: every commune's sync, entity timelines, dead letters, reconciliation runs, and commands (reconcile, replay or discard dead letters), scoped to the operator's provinces. Errors are application/problem+json. Generated from the code: npm run monitor:openapi.",
        )
        .setVersion('1')
        .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
        .addServer('http://127.0.0.1:8095', 'npm start')
        .build(),
    );
  } finally {
    await app.close();
  }
}

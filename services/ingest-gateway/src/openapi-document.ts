import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';
import { CommuneCredentials } from './auth/commune-credentials';
import { IngestController } from './ingest/ingest.controller';
import { IngestService } from './ingest/ingest.service';
import { ResultsClient } from './ingest/results.client';
import { Statuses } from './ingest/statuses';
import { GATEWAY_CONFIG } from './tokens';

/** The API's controller alone: its document needs its routes and types, not Kafka or a database. */
@Module({
  controllers: [IngestController],
  providers: [
    { provide: GATEWAY_CONFIG, useValue: {} },
    { provide: CommuneCredentials, useValue: {} },
    { provide: IngestService, useValue: {} },
    { provide: ResultsClient, useValue: {} },
    { provide: Statuses, useValue: {} },
  ],
})
class IngestApiDocumentModule {}

/**
 * The commune systems' API as OpenAPI, generated from the code (@nestjs/swagger): what
 * contracts/openapi/ingest-gateway.openapi.yaml must hold (a test compares them).
 */
export async function ingestApiDocument(): Promise<OpenAPIObject> {
  const app = await NestFactory.create(IngestApiDocumentModule, { logger: false });
  try {
    return SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Lienthong ingest API (ingest-gateway)')
        .setDescription(
          "How a commune system publishes its dossier, civil-status and land events: CloudEvents 1.0 in structured JSON, one or a batch, with an OAuth2 client-credentials access token from the province's identity provider (`lienthong_authority`: the commune, or the province of a province system). The events' contracts are contracts/asyncapi.yaml's. Errors are application/problem+json, with the same codes, fields and rules the dead-letter queue names. Generated from the code: npm run gateway:openapi.",
        )
        .setVersion('1')
        .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
        .addServer('http://127.0.0.1:8096', 'npm start')
        .build(),
    );
  } finally {
    await app.close();
  }
}

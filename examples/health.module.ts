// examples/health.module.ts — @nestjs/terminus: Kostrack's storage in your health check.
import { Controller, Get, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { KostrackHealthIndicator, KostrackModule } from '@kostrack/nestjs';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly kostrack: KostrackHealthIndicator, // provided by KostrackModule
  ) {}

  // 200 while the cost database answers; 503 (status "error") once it does not. No row is lost
  // meanwhile (queued, then spooled to disk), so keep this check out of a readiness probe that
  // would take every replica out of traffic when only the cost database is away.
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.kostrack.isHealthy('kostrack')]);
  }
}

@Module({
  imports: [TerminusModule, KostrackModule.forRoot({ database: process.env.DATABASE_URL })],
  controllers: [HealthController],
})
export class HealthModule {}

import { BadGatewayException, BadRequestException, Inject, Injectable, InternalServerErrorException, Logger } from '@nestjs/common';
import { KostrackConfigError } from '../core/errors.js';
import { importProviderCosts } from '../reconcile/provider-costs.import.js';
import { KostrackProviderCostsError } from '../reconcile/provider-costs.error.js';
import { isCostProvider } from '../reconcile/reconcile.options.js';
import { reconcile } from '../reconcile/reconcile.report.js';
import { describeError } from '../storage/error.classifier.js';
import { KOSTRACK_ADMIN_OPTIONS, type ResolvedAdminOptions } from './admin.options.js';
import { AdminQueryService } from './admin.query.service.js';
import { KOSTRACK_ADMIN_STORE, type AdminStore } from './admin.store.js';
import type { ImportCostsBody, ReconcileQuery } from './dto/reconcile.query.js';
import type { ImportCostsReportDto, ReconcileReportDto } from './dto/reconcile.responses.js';

/**
 * Reconciliation through the admin API. Imports use the admin keys of `admin.providerCosts`
 * (configured with the module, never sent in a request); a provider that answers badly is a
 * 502 that names what was wrong, and nothing of that import is stored.
 */
@Injectable()
export class AdminReconcileService {
  private readonly logger = new Logger('KostrackAdmin');

  constructor(
    @Inject(KOSTRACK_ADMIN_STORE) private readonly store: AdminStore,
    @Inject(AdminQueryService) private readonly queries: AdminQueryService,
    @Inject(KOSTRACK_ADMIN_OPTIONS) private readonly options: ResolvedAdminOptions,
  ) {}

  async report(q: ReconcileQuery): Promise<ReconcileReportDto> {
    const { pool } = this.queries.db();
    return this.guarded(() => reconcile({ pool, schema: this.store.storage()!.schema }, { from: q.from, to: q.to, threshold: q.threshold }), 'reconcile');
  }

  async importCosts(body: ImportCostsBody): Promise<ImportCostsReportDto> {
    if (!isCostProvider(body.provider)) throw new BadRequestException(`provider must be one of openai, anthropic`);
    const source = this.options.providerCosts?.[body.provider];
    if (!source) throw new BadRequestException(`No admin key for ${body.provider}: set admin.providerCosts.${body.provider}.adminKey in KostrackModule`);
    const { pool } = this.queries.db();
    return this.guarded(
      () => importProviderCosts({ pool, schema: this.store.storage()!.schema }, { ...source, provider: body.provider as 'openai' | 'anthropic', from: body.from, to: body.to }),
      'importProviderCosts',
    );
  }

  private async guarded<T>(run: () => Promise<T>, who: string): Promise<T> {
    try {
      return await run();
    } catch (e) {
      if (e instanceof KostrackConfigError) throw new BadRequestException(e.message.replace(new RegExp(`^${who}: `), ''));
      if (e instanceof KostrackProviderCostsError) throw new BadGatewayException({ statusCode: 502, error: 'Bad Gateway', message: e.message, kind: e.kind, providerStatus: e.status });
      const { code, message } = describeError(e);
      this.logger.error(`${who} failed (${code ?? (e as Error)?.constructor?.name ?? 'error'}): ${message}`);
      throw new InternalServerErrorException(`Kostrack ${who} failed; nothing was stored`);
    }
  }
}

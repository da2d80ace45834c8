import { BadRequestException, Inject, Injectable, InternalServerErrorException, Logger } from '@nestjs/common';
import { KostrackConfigError } from '../core/errors.js';
import { KOSTRACK_PRICE_BOOK } from '../nest/llm-clients.providers.js';
import type { PriceBook } from '../pricing/price-book.js';
import { describeError } from '../storage/error.classifier.js';
import { reprice } from '../storage/reprice.job.js';
import { resolveRepriceOptions, type RepriceOptions } from '../storage/reprice.options.js';
import { AdminQueryService } from './admin.query.service.js';
import { KOSTRACK_ADMIN_STORE, type AdminStore } from './admin.store.js';
import type { RepriceBody, RepriceReportDto } from './dto/reprice.body.js';

/**
 * Re-pricing through the admin API, with the module's own PriceBook: the same catalog, `prices`
 * option and `llm_prices` rows the app prices new calls with (a script or the CLI would not know
 * the option). The book is made to re-read `llm_prices` first, so a correction stored a moment ago
 * (on another replica, or by hand) applies; afterwards it needs nothing: it prices new calls from
 * the same rows.
 */
@Injectable()
export class AdminRepriceService {
  private readonly logger = new Logger('KostrackAdmin');

  constructor(
    @Inject(KOSTRACK_ADMIN_STORE) private readonly store: AdminStore,
    @Inject(AdminQueryService) private readonly queries: AdminQueryService,
    @Inject(KOSTRACK_PRICE_BOOK) private readonly book: PriceBook,
  ) {}

  async reprice(body: RepriceBody): Promise<RepriceReportDto> {
    const options: RepriceOptions = {
      from: body.from,
      to: body.to,
      provider: body.provider,
      model: body.model,
      dryRun: body.dryRun,
      batchSize: body.batchSize,
      by: body.by ?? 'admin-api',
    };
    try {
      // Shapes were checked by the DTO; this checks what only the job knows (from < to, the provider).
      resolveRepriceOptions(options);
    } catch (e) {
      if (e instanceof KostrackConfigError) throw new BadRequestException(e.message.replace(/^reprice: /, ''));
      throw e;
    }
    const { pool } = this.queries.db();
    const schema = this.store.storage()!.schema;
    await this.store.pricesChanged?.();
    try {
      return await reprice({ pool, schema, priceBook: this.book }, options);
    } catch (e) {
      const { code, message } = describeError(e);
      this.logger.error(`Re-price failed (${code ?? (e as Error)?.constructor?.name ?? 'error'}): ${message}`);
      throw new InternalServerErrorException('Kostrack re-price failed; what was done is kept, and the same request resumes it');
    }
  }
}

import { Body, type CanActivate, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, type Type, UseGuards, ValidationPipe } from '@nestjs/common';
import {
  ApiBadGatewayResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiExcludeController,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiSecurity,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { AdminBudgetsService } from './admin.budgets.service.js';
import { AdminInsightsService } from './admin.insights.service.js';
import { AdminPricesService } from './admin.prices.service.js';
import { AdminQueryService } from './admin.query.service.js';
import { AdminReconcileService } from './admin.reconcile.service.js';
import { AdminRepriceService } from './admin.reprice.service.js';
import { KOSTRACK_ADMIN_STORE, type AdminStore } from './admin.store.js';
import { DashboardController } from './dashboard.controller.js';
import {
  BlockedCallsDto,
  BudgetDto,
  BudgetListDto,
  CostReportDto,
  HealthDto,
  PriceDto,
  PricesDto,
  TraceDetailDto,
  TraceListDto,
  UnpricedModelsDto,
} from './dto/admin.responses.js';
import { CreateBudgetBody, UpdateBudgetBody } from './dto/budget.body.js';
import { BlockedCallsQuery, BudgetsQuery } from './dto/budgets.query.js';
import { CostsQuery } from './dto/costs.query.js';
import { CreatePriceBody } from './dto/create-price.body.js';
import { ListTracesQuery } from './dto/list-traces.query.js';
import { parseIsoTime } from './dto/query-values.js';
import { PricesQuery, RangeQuery } from './dto/range.query.js';
import { RepriceBody, RepriceReportDto } from './dto/reprice.body.js';
import { ImportCostsBody, ReconcileQuery } from './dto/reconcile.query.js';
import { ImportCostsReportDto, ReconcileReportDto } from './dto/reconcile.responses.js';
import { CallDetailQuery, FeatureCostsQuery, InsightsQuery, TopQuery } from './dto/insights.query.js';
import { CacheSavingsDto, CallDetailDto, FeatureCostsDto, SummaryDto, TopDto } from './dto/insights.responses.js';
import { ParseSpanIdPipe, ParseTraceIdPipe } from './trace-id.pipe.js';

/**
 * Validation is wired per parameter with the DTO class given explicitly, so it works without
 * emitted decorator metadata (tsx/esbuild builds) and whatever global pipes the host has.
 * Unknown parameters are refused: a misspelt filter must not silently widen the result.
 */
function valid<T>(type: Type<T>): ValidationPipe {
  return new ValidationPipe({ expectedType: type, transform: true, whitelist: true, forbidNonWhitelisted: true, stopAtFirstError: true });
}

/** The admin REST API. Not registered by itself: `createAdminControllers` mounts a subclass under the configured path. */
@ApiTags('kostrack')
@ApiSecurity('kostrack-api-key')
@ApiUnauthorizedResponse({ description: 'Missing or wrong API key' })
export class AdminApiController {
  constructor(
    @Inject(AdminQueryService) private readonly queries: AdminQueryService,
    @Inject(AdminPricesService) private readonly prices: AdminPricesService,
    @Inject(KOSTRACK_ADMIN_STORE) private readonly store: AdminStore,
    @Inject(AdminBudgetsService) private readonly budgets: AdminBudgetsService,
    @Inject(AdminRepriceService) private readonly repricing: AdminRepriceService,
    @Inject(AdminInsightsService) private readonly insights: AdminInsightsService,
    @Inject(AdminReconcileService) private readonly reconciling: AdminReconcileService,
  ) {}

  @Get('traces')
  @ApiOperation({ summary: 'Traces with their total cost, filtered, sorted, keyset-paginated' })
  @ApiOkResponse({ type: TraceListDto })
  @ApiBadRequestResponse({ description: 'A bad filter, limit or cursor' })
  listTraces(@Query(valid(ListTracesQuery)) query: ListTracesQuery): Promise<TraceListDto> {
    return this.queries.listTraces(query);
  }

  @Get('traces/:traceId')
  @ApiOperation({ summary: 'One trace: span tree, calls in order, cost breakdown, totals' })
  @ApiOkResponse({ type: TraceDetailDto })
  @ApiBadRequestResponse({ description: 'traceId is not a UUID' })
  @ApiNotFoundResponse({ description: 'No such trace' })
  traceDetail(@Param('traceId', ParseTraceIdPipe) traceId: string): Promise<TraceDetailDto> {
    return this.queries.traceDetail(traceId);
  }

  @Get('costs')
  @ApiOperation({ summary: 'Spend grouped by model, provider, a tag, or an hour/day/week bucket (optionally split by a series)' })
  @ApiOkResponse({ type: CostReportDto })
  costs(@Query(valid(CostsQuery)) query: CostsQuery): Promise<CostReportDto> {
    return this.queries.costs(query);
  }

  @Get('models/unpriced')
  @ApiOperation({ summary: 'Models whose calls could not be priced' })
  @ApiOkResponse({ type: UnpricedModelsDto })
  unpriced(@Query(valid(RangeQuery)) query: RangeQuery): Promise<UnpricedModelsDto> {
    return this.queries.unpricedModels(query);
  }

  @Get('prices')
  @ApiOperation({ summary: 'Price overrides in effect: stored (llm_prices) and from the prices option' })
  @ApiOkResponse({ type: PricesDto })
  pricesInEffect(@Query(valid(PricesQuery)) query: PricesQuery): Promise<PricesDto> {
    return this.prices.pricesAt(query.at !== undefined ? parseIsoTime(query.at) : new Date());
  }

  @Post('prices')
  @HttpCode(201)
  @ApiOperation({ summary: 'Store a price override with effective dates' })
  @ApiCreatedResponse({ type: PriceDto })
  createPrice(@Body(valid(CreatePriceBody)) body: CreatePriceBody): Promise<PriceDto> {
    return this.prices.create(body);
  }

  @Post('reprice')
  @HttpCode(200)
  @ApiOperation({ summary: 'Re-price stored calls of a time range with the prices in force now (after a back-dated llm_prices row), adjusting every rollup by the exact deltas; resumes an unfinished run of the same range' })
  @ApiOkResponse({ type: RepriceReportDto })
  @ApiBadRequestResponse({ description: 'A bad range, provider, model or batch size' })
  @ApiServiceUnavailableResponse({ description: 'Storage is off' })
  reprice(@Body(valid(RepriceBody)) body: RepriceBody): Promise<RepriceReportDto> {
    return this.repricing.reprice(body);
  }

  @Get('reconciliation')
  @ApiOperation({ summary: 'Tracked beside billed (imported provider figures) per UTC day × provider × model: coverage, the untracked amount, the gaps over a threshold' })
  @ApiOkResponse({ type: ReconcileReportDto })
  @ApiBadRequestResponse({ description: 'A bad range (whole UTC days, at most 366) or threshold' })
  @ApiServiceUnavailableResponse({ description: 'Storage is off' })
  reconciliation(@Query(valid(ReconcileQuery)) query: ReconcileQuery): Promise<ReconcileReportDto> {
    return this.reconciling.report(query);
  }

  @Post('provider-costs/import')
  @HttpCode(200)
  @ApiOperation({ summary: "Import a provider's own cost figures per UTC day and model from its admin report API (admin.providerCosts keys); the days reported replace what they held" })
  @ApiOkResponse({ type: ImportCostsReportDto })
  @ApiBadRequestResponse({ description: 'A bad provider or range, or no admin key configured for the provider' })
  @ApiBadGatewayResponse({ description: 'The provider answered with an error, a truncated page or nonsense figures; nothing was stored' })
  @ApiServiceUnavailableResponse({ description: 'Storage is off' })
  importProviderCosts(@Body(valid(ImportCostsBody)) body: ImportCostsBody): Promise<ImportCostsReportDto> {
    return this.reconciling.importCosts(body);
  }

  @Get('budgets')
  @ApiOperation({ summary: 'Durable budgets, each with its current period per scope value: spent, reserved (live holds), remaining, calls, resets at' })
  @ApiOkResponse({ type: BudgetListDto })
  @ApiServiceUnavailableResponse({ description: 'Storage is off' })
  listBudgets(@Query(valid(BudgetsQuery)) query: BudgetsQuery): Promise<BudgetListDto> {
    return this.budgets.list(query);
  }

  @Get('budgets/blocked')
  @ApiOperation({ summary: 'Recent calls a budget refused (status blocked), latest first, with the refusal' })
  @ApiOkResponse({ type: BlockedCallsDto })
  @ApiBadRequestResponse({ description: 'A bad range or limit' })
  blockedCalls(@Query(valid(BlockedCallsQuery)) query: BlockedCallsQuery): Promise<BlockedCallsDto> {
    return this.budgets.blocked(query);
  }

  @Post('budgets')
  @HttpCode(201)
  @ApiOperation({ summary: 'Create a durable budget; it applies to the next tracked call in this process, other replicas within budgetOptions.refreshMs' })
  @ApiCreatedResponse({ type: BudgetDto })
  @ApiBadRequestResponse({ description: 'The budget breaks a rule of the budgets option (the message says which)' })
  @ApiConflictResponse({ description: 'A budget of that name exists, or one on the same scope, value and period' })
  createBudget(@Body(valid(CreateBudgetBody)) body: CreateBudgetBody): Promise<BudgetDto> {
    return this.budgets.create(body);
  }

  @Put('budgets/:name')
  @ApiOperation({ summary: "Change a budget's limit, mode, unpriced, whenDatabaseDown or alerts (scope, value and period are fixed)" })
  @ApiParam({ name: 'name', description: 'The budget' })
  @ApiOkResponse({ type: BudgetDto })
  @ApiBadRequestResponse({ description: 'A bad value, or a field that cannot change' })
  @ApiNotFoundResponse({ description: 'No such budget' })
  updateBudget(@Param('name') name: string, @Body(valid(UpdateBudgetBody)) body: UpdateBudgetBody): Promise<BudgetDto> {
    return this.budgets.update(name, body);
  }

  @Delete('budgets/:name')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a budget with its usage' })
  @ApiParam({ name: 'name', description: 'The budget' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse({ description: 'No such budget' })
  deleteBudget(@Param('name') name: string): Promise<void> {
    return this.budgets.remove(name);
  }

  @Get('insights/summary')
  @ApiOperation({ summary: 'Spend, traces, calls, average and p95 cost per trace, tokens, failed and unpriced calls of the traces started in a range (default the last 30 days), and of the range just before it' })
  @ApiOkResponse({ type: SummaryDto })
  @ApiBadRequestResponse({ description: 'A bad range or filter' })
  summary(@Query(valid(InsightsQuery)) query: InsightsQuery): Promise<SummaryDto> {
    return this.insights.summary(query);
  }

  @Get('insights/top-users')
  @ApiOperation({ summary: 'Users (the user_id tag) by spend: traces, calls, average per trace' })
  @ApiOkResponse({ type: TopDto })
  @ApiBadRequestResponse({ description: 'A bad range, filter or limit' })
  topUsers(@Query(valid(TopQuery)) query: TopQuery): Promise<TopDto> {
    return this.insights.top('user', query);
  }

  @Get('insights/top-features')
  @ApiOperation({ summary: 'Features (the feature tag) by spend: traces, calls, average per trace' })
  @ApiOkResponse({ type: TopDto })
  @ApiBadRequestResponse({ description: 'A bad range, filter or limit' })
  topFeatures(@Query(valid(TopQuery)) query: TopQuery): Promise<TopDto> {
    return this.insights.top('feature', query);
  }

  @Get('insights/feature-costs')
  @ApiOperation({ summary: 'Cost per workflow run by feature (p50, p95, max) and the runs costing more than outlierFactor × their feature’s p95' })
  @ApiOkResponse({ type: FeatureCostsDto })
  @ApiBadRequestResponse({ description: 'A bad range, filter, limit or factor' })
  featureCosts(@Query(valid(FeatureCostsQuery)) query: FeatureCostsQuery): Promise<FeatureCostsDto> {
    return this.insights.featureCosts(query);
  }

  @Get('insights/cache-savings')
  @ApiOperation({ summary: 'What cache reads saved against the uncached input price, per model' })
  @ApiOkResponse({ type: CacheSavingsDto })
  @ApiBadRequestResponse({ description: 'A bad range, or a filter on a tag the hourly rollup does not keep' })
  cacheSavings(@Query(valid(InsightsQuery)) query: InsightsQuery): Promise<CacheSavingsDto> {
    return this.insights.cacheSavings(query);
  }

  @Get('calls/:spanId')
  @ApiOperation({ summary: 'One call: tags, metadata, token buckets, how it was priced, the span it ran in' })
  @ApiParam({ name: 'spanId', description: "The call's span id" })
  @ApiOkResponse({ type: CallDetailDto })
  @ApiBadRequestResponse({ description: 'spanId is not a UUID, or a bad time' })
  @ApiNotFoundResponse({ description: 'No such call' })
  callDetail(@Param('spanId', ParseSpanIdPipe) spanId: string, @Query(valid(CallDetailQuery)) query: CallDetailQuery): Promise<CallDetailDto> {
    return this.insights.callDetail(spanId, query);
  }

  @Get('health')
  @ApiOperation({ summary: "The writer's health: queue depth, spool backlog, last flush, last error, database reachable" })
  @ApiOkResponse({ type: HealthDto })
  health(): HealthDto {
    return this.store.health();
  }
}

/** A controller class of this module's own, so two apps (or tests) can mount the API under different paths. */
export function createAdminControllers(path: string, guard: Type<CanActivate>): Type[] {
  class KostrackAdminController extends AdminApiController {}
  Controller(path)(KostrackAdminController);
  UseGuards(guard)(KostrackAdminController);
  class KostrackDashboardController extends DashboardController {}
  Controller(path)(KostrackDashboardController);
  ApiExcludeController()(KostrackDashboardController);
  return [KostrackAdminController, KostrackDashboardController];
}


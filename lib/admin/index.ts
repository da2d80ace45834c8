export { KostrackAdminGuard } from './admin.guard.js';
export { ADMIN_API_KEY_HEADER, DEFAULT_ADMIN_PATH, type AdminOptions } from './admin.options.js';
export type {
  TraceSummaryDto,
  TraceListDto,
  TraceDetailDto,
  SpanNodeDto,
  CallDto,
  CostBreakdownItemDto,
  CostReportDto,
  CostGroupDto,
  UnpricedModelsDto,
  PricesDto,
  PriceDto,
  BudgetListDto,
  BudgetDto,
  BudgetUsageDto,
  BlockedCallsDto,
  BlockedCallDto,
} from './dto/admin.responses.js';
export type {
  SummaryDto,
  PeriodFiguresDto,
  TopDto,
  TopRowDto,
  FeatureCostsDto,
  FeatureCostDto,
  OutlierTraceDto,
  CacheSavingsDto,
  CacheSavingsModelDto,
  CallDetailDto,
  CallSpanDto,
} from './dto/insights.responses.js';

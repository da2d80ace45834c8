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
} from './dto/admin.responses.js';

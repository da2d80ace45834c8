import { LlmCallEntity } from './llm-call.entity.js';
import { LlmPriceEntity } from './llm-price.entity.js';
import { LlmSpanEntity } from './llm-span.entity.js';
import { LlmTraceEntity } from './llm-trace.entity.js';

export { LlmCallEntity, LlmPriceEntity, LlmSpanEntity, LlmTraceEntity };

/** For hosts that run their own DataSource: `entities: [...kostrackEntities]`. */
export const kostrackEntities = [LlmCallEntity, LlmSpanEntity, LlmTraceEntity, LlmPriceEntity];

import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { KostrackModuleOptions } from './kostrack.options.js';

export const {
  ConfigurableModuleClass: KostrackConfigurableModule,
  MODULE_OPTIONS_TOKEN: KOSTRACK_OPTIONS,
  OPTIONS_TYPE: KOSTRACK_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: KOSTRACK_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<KostrackModuleOptions>()
  .setClassMethodName('forRoot')
  // Tracing is process-wide; one import in the root module serves every feature module.
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();

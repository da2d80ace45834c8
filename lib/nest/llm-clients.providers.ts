import { Logger, type InjectionToken, type OptionalFactoryDependency, type Provider } from '@nestjs/common';
import { KostrackConfigError } from '../core/errors.js';
import { normalizeTags, type TagInput } from '../core/tags.js';
import { assertProviderName, loadCatalogFile, loadCatalogUrl, PriceBook, setDefaultPriceBook, type CatalogData, type PriceOverride } from '../pricing/index.js';
import { wrap, type MetadataHook } from '../providers/index.js';
import { KOSTRACK_OPTIONS } from './kostrack.module-definition.js';
import type { KostrackModuleOptions } from './kostrack.options.js';

/** One named LLM client: Kostrack calls `factory` with the `inject` dependencies and wraps the SDK client it returns. */
export interface LlmClientDefinition<T extends object = object> {
  /** `openai`, `anthropic`, `gemini`, `deepseek`, `groq`, `mistral`, `openrouter`, … or `custom:<name>`; default from the client. */
  provider?: string | undefined;
  factory: (...deps: any[]) => T | Promise<T>;
  inject?: (InjectionToken | OptionalFactoryDependency)[] | undefined;
  /** Client tags, persisted on every call of this client. */
  tags?: TagInput | undefined;
  metadata?: MetadataHook | undefined;
}

/** The injection token of a named client; `@InjectLlmClient(name)` uses it. */
export function llmClientToken(name: string): string {
  return `kostrack:llm-client:${name}`;
}

/** The module's PriceBook (catalog + `prices` overrides); also made the process default for `wrap()`. */
export const KOSTRACK_PRICE_BOOK = Symbol.for('kostrack:price-book');

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** Validates `clients` and `prices` when the module is declared, so mistakes fail at startup. */
export function validateClientOptions(options: Pick<KostrackModuleOptions, 'clients' | 'prices'>): void {
  if (options.prices !== undefined) new PriceBook({ overrides: options.prices, catalog: false });
  const clients = options.clients;
  if (clients === undefined) return;
  if (typeof clients !== 'object' || clients === null || Array.isArray(clients))
    throw new KostrackConfigError('KostrackModule: clients must be an object of { [name]: { provider, factory, inject?, tags? } }');
  for (const [name, def] of Object.entries(clients)) {
    if (!NAME.test(name)) throw new KostrackConfigError(`KostrackModule: client name ${JSON.stringify(name)} must match ${NAME}`);
    if (typeof def?.factory !== 'function') throw new KostrackConfigError(`KostrackModule: client "${name}" needs a factory function`);
    if (def.provider !== undefined) assertProviderName(def.provider, `KostrackModule: client "${name}"`);
    if (def.inject !== undefined && !Array.isArray(def.inject)) throw new KostrackConfigError(`KostrackModule: client "${name}".inject must be an array`);
    normalizeTags(def.tags);
  }
}

/** The PriceBook provider: built from the resolved options, so `forRootAsync` overrides work too. */
export const priceBookProvider: Provider = {
  provide: KOSTRACK_PRICE_BOOK,
  useFactory: async (options: KostrackModuleOptions) => {
    const catalogData = await catalogDataOf(options.catalog, (m) => new Logger('Kostrack').warn(m));
    const book = new PriceBook({ overrides: options.prices as PriceOverride[] | undefined, catalogData });
    setDefaultPriceBook(book);
    return book;
  },
  inject: [KOSTRACK_OPTIONS],
};

/** The `catalog` option loaded: a file must load (it is configuration); a download may fail (the network is not). */
async function catalogDataOf(catalog: KostrackModuleOptions['catalog'], warn: (message: string) => void): Promise<CatalogData | undefined> {
  if (catalog === undefined) return undefined;
  if (typeof catalog !== 'object' || catalog === null) throw new KostrackConfigError('KostrackModule: catalog must be { file } or { url }');
  if (catalog.file !== undefined) return loadCatalogFile(catalog.file);
  if (catalog.url === undefined) throw new KostrackConfigError('KostrackModule: catalog needs a file or a url');
  if (typeof catalog.url !== 'string' || !/^https?:\/\//.test(catalog.url))
    throw new KostrackConfigError(`KostrackModule: catalog.url must be an http(s) URL, got ${JSON.stringify(catalog.url)}`);
  try {
    return await loadCatalogUrl(catalog.url);
  } catch (e) {
    warn(`Kostrack could not load the catalog from ${catalog.url} (${(e as Error).message}); using the bundled catalog`);
    return undefined;
  }
}

/**
 * One provider per named client. Also usable on its own in a feature module:
 * `providers: [...createLlmClientProviders({ drafts: { provider: 'openai', factory: () => new OpenAI() } })]`.
 */
export function createLlmClientProviders(clients: Record<string, LlmClientDefinition> | undefined): Provider[] {
  if (!clients) return [];
  validateClientOptions({ clients });
  return Object.entries(clients).map(([name, def]) => ({
    provide: llmClientToken(name),
    useFactory: async (book: PriceBook, ...deps: unknown[]) => {
      const client = await def.factory(...deps);
      return wrap(client, { provider: def.provider, tags: def.tags, priceBook: book, metadata: def.metadata });
    },
    inject: [KOSTRACK_PRICE_BOOK, ...(def.inject ?? [])],
  }));
}

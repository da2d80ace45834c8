/** Where each provider's calls go: the real API when its key is set, else the built-in simulator. */
export interface ProviderEndpoints {
  anthropic: { apiKey: string; baseURL?: string; simulated: boolean };
  openai: { apiKey: string; baseURL?: string; simulated: boolean };
  deepseek: { apiKey: string; baseURL: string; simulated: boolean };
}

export function providerEndpoints(simulatorUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): ProviderEndpoints {
  return {
    anthropic: env.ANTHROPIC_API_KEY
      ? { apiKey: env.ANTHROPIC_API_KEY, simulated: false }
      : { apiKey: 'sk-ant-simulated', baseURL: simulatorUrl, simulated: simulatorUrl !== undefined },
    openai: env.OPENAI_API_KEY
      ? { apiKey: env.OPENAI_API_KEY, simulated: false }
      : { apiKey: 'sk-simulated', baseURL: simulatorUrl && `${simulatorUrl}/v1`, simulated: simulatorUrl !== undefined },
    deepseek: env.DEEPSEEK_API_KEY
      ? { apiKey: env.DEEPSEEK_API_KEY, baseURL: 'https://api.deepseek.com', simulated: false }
      : { apiKey: 'sk-simulated', baseURL: `${simulatorUrl}/v1`, simulated: simulatorUrl !== undefined },
  };
}

/** True when every provider has a real key: then no simulator is started. */
export function allKeysSet(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.ANTHROPIC_API_KEY && env.OPENAI_API_KEY && env.DEEPSEEK_API_KEY);
}

import { Inject } from '@nestjs/common';
import { llmClientToken } from './llm-clients.providers.js';

/**
 * Injects a tracked client registered under `clients` in `KostrackModule.forRoot()`. Type the
 * parameter with the SDK class: `@InjectLlmClient('drafts') private readonly openai: OpenAI`.
 */
export const InjectLlmClient = (name: string): ParameterDecorator & PropertyDecorator => Inject(llmClientToken(name));

// examples/config.module.ts — forRootAsync: the database, the admin key and a client's API key from ConfigService.
import { Controller, Get, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import OpenAI from 'openai';
import { InjectLlmClient, KostrackModule, Trace } from '@kostrack/nestjs';

@Controller('drafts')
export class DraftController {
  constructor(@InjectLlmClient('drafts') private readonly openai: OpenAI) {}

  @Trace({ tags: { feature: 'drafts' } })
  @Get()
  async draft() {
    const r = await this.openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Draft a reply' }] });
    return { text: r.choices[0].message.content };
  }
}

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    KostrackModule.forRootAsync({
      inject: [ConfigService],
      // What may come late comes from the factory...
      useFactory: (config: ConfigService) => ({
        database: config.getOrThrow<string>('DATABASE_URL'),
        admin: { apiKey: config.getOrThrow<string>('KOSTRACK_ADMIN_KEY') },
      }),
      // ...what Nest needs when it declares the module sits beside it: routes and client names.
      admin: { enabled: true },
      clients: {
        drafts: {
          provider: 'openai',
          inject: [ConfigService],
          factory: (config: ConfigService) => new OpenAI({ apiKey: config.getOrThrow('OPENAI_API_KEY'), baseURL: config.get('OPENAI_BASE_URL') }),
        },
      },
    }),
  ],
  controllers: [DraftController],
})
export class AppModule {}

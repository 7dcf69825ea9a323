import { createApp } from './app.ts';
import type { Env } from './env.ts';
import { bundledModels } from './models/bundled.ts';

const app = createApp({ registry: bundledModels() });

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;

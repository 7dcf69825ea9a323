/** Standard Webhooks: verification of incoming triggers, signing and delivery of our callbacks. */
export * from './verify.ts';
export * from './sign.ts';
export * from './callback-url.ts';
export * from './schedule.ts';
export * from './deliver.ts';

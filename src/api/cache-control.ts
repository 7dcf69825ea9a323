/**
 * Cache-Control of every generated PNG: /v1/samples and /v1/grids (so also the `url` of the stream's `done`
 * event), a batch's images and contact sheet.
 *
 * Not `immutable`: what a URL means changes with a deploy when the default model, a model's weights
 * (re-exported under the same name) or its serving defaults change. The ETag follows the bytes (for samples
 * and grids it is the content key: model sha256, resolved parameters, seed), and revalidating is cheap (a 304;
 * for samples and grids without a model run or a storage read). So: an hour fresh, then revalidated; during
 * the following day a cache may show the old image once while it revalidates in the background, like the
 * pages (PAGE_CACHE in src/web/routes.ts). An hour bounds how long a browser keeps showing a pre-deploy image.
 */
export const GENERATED_PNG_CACHE = 'public, max-age=3600, stale-while-revalidate=86400';

import type { JsonSchema, OpenApiDocument, OpenApiOperation } from '../openapi.ts';
import type { Assets } from './assets.ts';
import { escapeHtml } from './html.ts';
import { pageHead } from './page.ts';

/** A one-line summary of a parameter's JSON Schema: its enum, or type and pattern. */
function schemaSummary(schema: JsonSchema): string {
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  const type = typeof schema.type === 'string' ? schema.type : 'any';
  return typeof schema.pattern === 'string' ? `${type}, pattern ${schema.pattern}` : type;
}

/** Inline `code` spans of a description. */
function prose(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

function operation(path: string, method: string, op: OpenApiOperation): string {
  const params = op.parameters.length
    ? `<div class="scroll"><table><thead><tr><th>Parameter</th><th>In</th><th>Schema</th><th>Description</th></tr></thead><tbody>${op.parameters
        .map(
          (p) =>
            `<tr><td><code>${escapeHtml(p.name)}</code>${p.required ? ' (required)' : ''}</td><td>${p.in}</td><td><code>${escapeHtml(schemaSummary(p.schema))}</code></td><td>${prose(p.description)}</td></tr>`,
        )
        .join('')}</tbody></table></div>`
    : '';
  const responses = Object.entries(op.responses)
    .map(([status, r]) => `<li><strong>${escapeHtml(status)}</strong> ${Object.keys(r.content ?? {}).map((t) => `<code>${escapeHtml(t)}</code>`).join(', ')} ${prose(r.description)}</li>`)
    .join('');
  const body = op.requestBody
    ? `<p>Body (${Object.keys(op.requestBody.content).map((t) => `<code>${escapeHtml(t)}</code>`).join(', ')}): ${prose(op.requestBody.description)} Schema: ${Object.values(op.requestBody.content)
        .map((m) => (typeof m.schema.$ref === 'string' ? `<a href="#schema-${escapeHtml(m.schema.$ref.split('/').pop() ?? '')}">${escapeHtml(m.schema.$ref.split('/').pop() ?? '')}</a>` : 'inline'))
        .join(', ')}.</p>`
    : '';
  const security = op.security ? `<p>Authentication: ${op.security.map((s) => Object.keys(s).map((k) => `<code>${escapeHtml(k)}</code>`).join(' + ')).join(' or ')}.</p>` : '';
  const id = op.operationId;
  return `<section class="card op" id="${escapeHtml(id)}">
<h3><span class="method">${method.toUpperCase()}</span>${escapeHtml(path)}</h3>
<p><strong>${prose(op.summary)}</strong>. ${prose(op.description)}</p>
${params}
${body}${security}
<p>Responses:</p><ul>${responses}</ul>
</section>`;
}

/** GET /docs: the OpenAPI document rendered as HTML (no client-side framework, no external assets). */
export function renderReference(doc: OpenApiDocument, assets: Assets): string {
  const ops = Object.entries(doc.paths).flatMap(([path, item]) =>
    (['get', 'post'] as const).flatMap((method) => {
      const op = item[method];
      return op ? [{ path, method, op }] : [];
    }),
  );
  const toc = ops.map(({ path, method, op }) => `<li><a href="#${escapeHtml(op.operationId)}">${method.toUpperCase()} ${escapeHtml(path)}</a></li>`).join('');
  const schemas = Object.entries(doc.components.schemas)
    .map(([name, schema]) => `<h3 id="schema-${escapeHtml(name)}">${escapeHtml(name)}</h3><pre class="scroll"><code>${escapeHtml(JSON.stringify(schema, null, 2))}</code></pre>`)
    .join('');
  return `${pageHead(`${doc.info.title} API reference`, doc.info.description, assets)}
<body>
<header><h1><a href="/">${escapeHtml(doc.info.title)}</a> API reference</h1><nav><a href="/">Demo</a><a href="/openapi.json">openapi.json</a></nav></header>
<main>
<p class="lede">${prose(doc.info.description)} Generated from <a href="/openapi.json">the OpenAPI ${escapeHtml(doc.openapi)} document</a>, whose query parameters come from the schemas that validate requests.</p>
<ul>${toc}</ul>
${ops.map(({ path, method, op }) => operation(path, method, op)).join('\n')}
<section class="card"><h2>Schemas</h2>${schemas}</section>
</main>
</body>
</html>
`;
}

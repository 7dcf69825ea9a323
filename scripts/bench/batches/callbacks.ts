/** A callback receiver on 127.0.0.1 for the batch fault run: verifies each delivery with standardwebhooks, keeps them by job. */
import { createServer, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { DEV_CALLBACK_SECRET } from './dev.ts';

export interface Received {
  type: string;
  job: string;
  status: string;
  webhookId: string;
}

export interface CallbackReceiver {
  url: string;
  received: Received[];
  /** Deliveries whose signature did not verify. */
  bad: number;
  close(): Promise<void>;
}

export async function startCallbackReceiver(): Promise<CallbackReceiver> {
  const received: Received[] = [];
  const state = { bad: 0 };
  const webhook = new Webhook(DEV_CALLBACK_SECRET);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      try {
        const payload = webhook.verify(body, headers) as { type: string; data: { id: string; status: string } };
        received.push({ type: payload.type, job: payload.data.id, status: payload.data.status, webhookId: headers['webhook-id'] ?? '' });
        res.writeHead(204).end();
      } catch {
        state.bad += 1;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    get bad() {
      return state.bad;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// The S3 reference row: what the server sustains for plain parallel ranged
// GETs of a backup's objects, with nothing else done to the bytes (counted and
// dropped). Run as its own process, like the shmsnap rows, so that the server
// in the benchmark's process is not competing with it for the event loop.
//   node --import tsx bench/s3-ranged-get.ts ENDPOINT BUCKET PREFIX CONCURRENCY RANGE_MIB
// Prints one JSON line: { seconds, cpuSeconds, bytes, requests }.
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

const [endpoint, bucket, prefix, concurrencyText, rangeMibText] = process.argv.slice(2);
if (!endpoint || !bucket || prefix === undefined || !concurrencyText || !rangeMibText) throw new Error('usage: s3-ranged-get ENDPOINT BUCKET PREFIX CONCURRENCY RANGE_MIB');
const concurrency = Number(concurrencyText);
const rangeBytes = Number(rangeMibText) * 1024 * 1024;
const client = new S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' });

const objects: { key: string; size: number }[] = [];
let token: string | undefined;
do {
  const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
  for (const item of page.Contents ?? []) if (item.Key && !item.Key.endsWith('.json')) objects.push({ key: item.Key, size: item.Size ?? 0 });
  token = page.IsTruncated ? page.NextContinuationToken : undefined;
} while (token);

// Every range of every object, fetched `concurrency` at a time.
const ranges = objects.flatMap(({ key, size }) => Array.from({ length: Math.ceil(size / rangeBytes) }, (_, i) => ({ key, start: i * rangeBytes, end: Math.min(size, (i + 1) * rangeBytes) })));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let bytes = 0;
let next = 0;
async function worker(): Promise<void> {
  while (next < ranges.length) {
    const range = ranges[next++]!;
    const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: range.key, Range: `bytes=${range.start}-${range.end - 1}` }));
    for await (const chunk of answer.Body as AsyncIterable<Uint8Array>) bytes += chunk.length;
  }
}
await Promise.all(Array.from({ length: concurrency }, () => worker()));
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const expected = objects.reduce((sum, o) => sum + o.size, 0);
if (bytes !== expected) throw new Error(`read ${bytes} bytes, the objects hold ${expected}`);
process.stdout.write(`${JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, bytes, requests: ranges.length })}\n`);

import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AccountSASPermissions, BlobServiceClient } from '@azure/storage-blob';
import { Azurite, startAzurite } from './support/azurite-harness';
import { okAsync as ok, tempDir, tribAsync as trib } from './support/trib';

/**
 * Credentials that only read (an auditor's, a data scientist's who may not push): Azurite checks a SAS token's
 * permissions as Azure does, so a real store refuses the writes here.
 */
describe('trib with credentials that only read the store', () => {
  let azurite: Azurite;
  let t: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await azurite?.stop();
  });
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(() => t.cleanup());

  /** A connection string with an account SAS allowing read and list only. */
  function readOnlyEnv(): Record<string, string> {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const [endpoint, sas] = service.generateAccountSasUrl(new Date(Date.now() + 3_600_000), AccountSASPermissions.parse('rl'), 'sco').split('?');
    return { AZURE_STORAGE_CONNECTION_STRING: `BlobEndpoint=${endpoint.replace(/\/$/, '')};SharedAccessSignature=${sas}` };
  }

  async function blobNames(container: string): Promise<string[]> {
    const names: string[] = [];
    const client = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container);
    for await (const b of client.listBlobsFlat()) names.push(b.name);
    return names.sort();
  }

  it('status and diff of the working files work, store nothing, and leave the next commit whole', async () => {
    const full = azurite.env;
    const repo = path.join(t.dir, 'ds');
    await ok(t.dir, ['init', repo, '--store', 'az://read-only/heart'], 0, { env: full });
    writeFileSync(path.join(repo, 'beats.csv'), 'idx,R\n0,77\n');
    await ok(repo, ['commit', '-m', 'one'], 0, { env: full });
    // Local changes: a new file large enough for several chunks, and an edited one.
    const big = randomBytes(3 * 1024 * 1024);
    writeFileSync(path.join(repo, 'big.bin'), big);
    writeFileSync(path.join(repo, 'beats.csv'), 'idx,R\n0,77\n1,370\n');
    const before = await blobNames('read-only');
    const index = path.join(repo, '.trib', 'index');
    const indexBefore = existsSync(index) ? statSync(index).mtimeMs : undefined;

    const ro = readOnlyEnv();
    const status = JSON.parse((await ok(repo, ['status', '--json'], 0, { env: ro })).stdout);
    expect(status.changes).toEqual([
      { path: 'beats.csv', status: 'modified' },
      { path: 'big.bin', status: 'added' },
    ]);
    const diff = JSON.parse((await ok(repo, ['diff', '--rows', '--json'], 0, { env: ro })).stdout);
    expect(diff.added).toEqual(['big.bin']);
    expect(diff.changes.find((c: { path: string }) => c.path === 'beats.csv').rows).toMatchObject({ addedCount: 1, removedCount: 0 });

    const commit = await trib(repo, ['commit', '-m', 'two'], { env: ro });
    expect(commit.code).toBe(3);
    expect(commit.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^trib commit: cannot write .* in az:\/\/read-only\/heart: AuthorizationPermissionMismatch \(HTTP 403\)$/)]);

    expect(await blobNames('read-only')).toEqual(before);
    expect(existsSync(index) ? statSync(index).mtimeMs : undefined).toBe(indexBefore);
    // The scratch folder the objects went to is gone with the command.
    expect(readdirSync(path.join(repo, '.trib')).filter((n) => n.startsWith('scratch-'))).toEqual([]);
    expect(JSON.parse((await ok(repo, ['diff', 'HEAD', 'HEAD', '--json'], 0, { env: ro })).stdout).changes).toEqual([]);

    // With credentials that write, the commit stores every new object: none is taken as stored already.
    await ok(repo, ['commit', '-m', 'two'], 0, { env: full });
    await ok(repo, ['verify', '--read-data'], 0, { env: full });
    const out = path.join(t.dir, 'co');
    await ok(repo, ['checkout', 'main', '--to', out], 0, { env: ro });
    expect(readFileSync(path.join(out, 'big.bin')).equals(big)).toBe(true);
    // A clean working copy takes its branch's new commits without writing: switch to the branch HEAD is on.
    await ok(repo, ['switch', 'main'], 0, { env: ro });
  });
  it('with credentials that cannot even read, status fails once, with one line, and leaves no scratch folder', async () => {
    const repo = path.join(t.dir, 'ds');
    await ok(t.dir, ['init', repo, '--store', 'az://list-only/heart'], 0, { env: azurite.env });
    writeFileSync(path.join(repo, 'a.csv'), 'idx\n0\n');
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const [endpoint, sas] = service.generateAccountSasUrl(new Date(Date.now() + 3_600_000), AccountSASPermissions.parse('l'), 'sco').split('?');
    const listOnly = { AZURE_STORAGE_CONNECTION_STRING: `BlobEndpoint=${endpoint.replace(/\/$/, '')};SharedAccessSignature=${sas}` };
    const inTmp = () => readdirSync(tmpdir()).filter((n) => n.startsWith('trib-scratch-')).length;
    const tmpBefore = inTmp();
    const r = await trib(repo, ['status'], { env: listOnly });
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^trib status: cannot read .*AuthorizationPermissionMismatch \(HTTP 403\)$/)]);
    expect(readdirSync(path.join(repo, '.trib')).filter((n) => n.startsWith('scratch-'))).toEqual([]);
    expect(inTmp()).toBe(tmpBefore);
  });
});

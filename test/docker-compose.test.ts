import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { KNOWN_ENV_VARS } from '@tributary/config';
import { ROOT } from './support/trib';

// No Docker engine runs here, so the compose file is checked statically: services, variables, and the URLs that join them.
describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
  const services: Record<string, any> = compose.services;
  const names = new Set(Object.keys(services));

  it('has the whole system', () => {
    for (const s of ['redis', 'minio', 'azurite', 'fake-gcs', 'init-stores', 'broker', 'hub', 'agent-na-aws', 'agent-na-gcp', 'agent-eu-azure']) {
      expect(names).toContain(s);
    }
  });

  const appServices = Object.entries(services).filter(([, s]) => s.environment && Object.keys(s.environment).some((k) => k.startsWith('TRIB_') || k.startsWith('AWS_') || k.startsWith('AZURE_') || k.startsWith('STORAGE_')));

  it('sets only variables the apps read', () => {
    expect(appServices.length).toBeGreaterThanOrEqual(5);
    for (const [name, s] of appServices) {
      for (const key of Object.keys(s.environment)) {
        expect({ service: name, variable: key, known: KNOWN_ENV_VARS.includes(key) }).toEqual({ service: name, variable: key, known: true });
      }
    }
  });

  const hostOf = (v: string): string | undefined => {
    const blob = /BlobEndpoint=https?:\/\/([^:/;]+)/.exec(v);
    if (blob) return blob[1];
    const url = /^[a-z]+:\/\/([^:/]+)/.exec(v);
    if (url && !/^(s3|gs|az|file):/.test(v)) return url[1];
    const hp = /^([a-z][a-z0-9-]*):\d+$/.exec(v);
    return hp ? hp[1] : undefined;
  };

  it('every URL and address names a service that exists', () => {
    let checked = 0;
    for (const [, s] of appServices) {
      for (const [key, value] of Object.entries<string>(s.environment)) {
        const host = hostOf(String(value));
        if (!host || host === '0.0.0.0') continue;
        checked++;
        expect({ key, host, exists: names.has(host) }).toEqual({ key, host, exists: true });
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  // The apps stop at once on a store or a Redis they cannot reach (only the broker they retry), so those start first.
  it('starts every store and Redis an app names before the app', () => {
    const dependsOn = (name: string): string[] => {
      const d = services[name].depends_on ?? [];
      return Array.isArray(d) ? d : Object.keys(d);
    };
    const before = (name: string, seen = new Set<string>()): Set<string> => {
      for (const d of dependsOn(name)) if (!seen.has(d)) before(d, seen.add(d));
      return seen;
    };
    for (const [name, s] of appServices) {
      const started = before(name);
      for (const [key, value] of Object.entries<string>(s.environment)) {
        const host = hostOf(String(value));
        if (!host || host === '0.0.0.0' || key === 'TRIB_BROKER') continue;
        expect({ service: name, key, host, startsFirst: started.has(host) }).toEqual({ service: name, key, host, startsFirst: true });
      }
    }
  });

  it('each agent keeps its dataset in its own cloud, joined to the emulator it names', () => {
    const env = (n: string) => services[n].environment;
    expect(env('agent-na-aws').TRIB_STORE).toMatch(/^s3:\/\//);
    expect(env('agent-na-aws').AWS_ENDPOINT_URL_S3).toBe('http://minio:9000');
    expect(env('agent-na-gcp').TRIB_STORE).toMatch(/^gs:\/\//);
    expect(env('agent-na-gcp').STORAGE_EMULATOR_HOST).toBe('http://fake-gcs:4443');
    expect(env('agent-eu-azure').TRIB_STORE).toMatch(/^az:\/\//);
    expect(env('agent-eu-azure').AZURE_STORAGE_CONNECTION_STRING).toContain('azurite:10000');
    for (const n of ['agent-na-aws', 'agent-na-gcp', 'agent-eu-azure', 'hub']) expect(env(n).TRIB_BROKER).toBe('broker:7070');
    expect(env('hub').TRIB_TOPICS.split(',')).toEqual(['datasets/heart/na-aws', 'datasets/heart/na-gcp', 'datasets/heart/eu-azure']);
  });
});

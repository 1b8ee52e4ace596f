import { describe, expect, it } from 'vitest';
import { parsePipelineYaml, validatePipeline } from '../../src/pipeline/config.js';

const base = `name: doorbell
source:
  type: folder
  path: ./drop
task:
  type: detector
  model: centernet
rules:
  - name: person_at_door
    labels: [person]
    min_score: 0.5
    actions: [home]
actions:
  home:
    type: mqtt
    url: mqtt://127.0.0.1:1883
    topic: door/events
allow: [127.0.0.1]
safe_state:
  description: keep the chime working
`;

describe('pipeline config', () => {
  it('parses a valid pipeline and fills defaults', () => {
    const c = parsePipelineYaml(base, 'p.yaml');
    expect(c.source).toMatchObject({ type: 'folder', delete_after: true, when_busy: 'wait' });
    expect(c.queue).toBe(4);
    expect(c.actions.home).toMatchObject({ qos: 1 });
    expect(c.rules[0]!.min_count).toBe(1);
  });

  it('names the key and its line for a wrong value', () => {
    const text = base.replace('min_score: 0.5', 'min_score: 5');
    expect(() => parsePipelineYaml(text, 'p.yaml')).toThrow(/p\.yaml: rules\[0\]\.min_score \(line 11\)/);
  });

  it('names an unknown key with its line', () => {
    const text = base.replace('    topic: door/events', '    topic: door/events\n    retain: true');
    expect(() => parsePipelineYaml(text, 'p.yaml')).toThrow(/actions\.home\.retain \(line 18\): unknown key/);
  });

  it('refuses an action whose host is not allowed, at load', () => {
    const text = base.replace('allow: [127.0.0.1]', 'allow: [localhost]');
    expect(() => parsePipelineYaml(text, 'p.yaml')).toThrow(/actions\.home\.url \(line 16\): host "127\.0\.0\.1" is not on the pipeline's allow-list/);
  });

  it('refuses credentials inside a URL', () => {
    const text = base.replace('mqtt://127.0.0.1:1883', 'mqtt://me:pw@127.0.0.1:1883');
    expect(() => parsePipelineYaml(text, 'p.yaml')).toThrow(/carries credentials/);
  });

  it('refuses a rule that names a missing action', () => {
    const text = base.replace('actions: [home]', 'actions: [home, phone]');
    expect(() => parsePipelineYaml(text, 'p.yaml')).toThrow(/rules\[0\]\.actions\[1\] \(line 12\): no action named "phone"/);
  });

  it('reports YAML syntax errors with a line', () => {
    expect(() => parsePipelineYaml('name: x\nsource: [\n', 'bad.yaml')).toThrow(/bad\.yaml: line \d/);
  });

  it('requires a safe state', () => {
    expect(() => validatePipeline({ name: 'x', source: { type: 'stdin' }, task: { type: 'sensor' }, rules: [{ name: 'r' }] }))
      .toThrow(/safe_state: Required/);
  });
});

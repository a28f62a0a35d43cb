import { describe, expect, it } from 'vitest';
import { EverestTopics } from '../../../src/everest/topics.js';

describe('EverestTopics', () => {
  const topics = new EverestTopics({ prefix: '', apiVersion: '1' });

  it('builds the addresses EVerest uses', () => {
    expect(topics.e2m('evse_manager_api', 'session_info')).toBe('everest_api/1/evse_manager_consumer/evse_manager_api/e2m/session_info');
    expect(topics.m2e('evse_manager_api', 'enable_disable')).toBe('everest_api/1/evse_manager_consumer/evse_manager_api/m2e/enable_disable');
    expect(topics.replyTo('m', 'get_evse', 'abc')).toBe('everest_api/1/evse_manager_consumer/m/e2m/get_evse/abc');
    expect(topics.e2mFilter('m')).toBe('everest_api/1/evse_manager_consumer/m/e2m/#');
  });

  it('glues the external prefix on with no separator and keeps the version segment configurable', () => {
    const old = new EverestTopics({ prefix: 'site7/', apiVersion: '1.0' });
    expect(old.e2m('m', 'heartbeat')).toBe('site7/everest_api/1.0/evse_manager_consumer/m/e2m/heartbeat');
    expect(old.parse('site7/everest_api/1.0/evse_manager_consumer/m/e2m/heartbeat')).toEqual({ moduleId: 'm', direction: 'e2m', name: 'heartbeat', rest: [] });
    expect(old.parse('everest_api/1.0/evse_manager_consumer/m/e2m/heartbeat')).toBeUndefined();
  });

  it.each([
    ['everest_api/1/evse_manager_consumer/m1/e2m/powermeter', { moduleId: 'm1', direction: 'e2m', name: 'powermeter', rest: [] }],
    ['everest_api/1/evse_manager_consumer/m1/e2m/pause_charging/1234-5', { moduleId: 'm1', direction: 'e2m', name: 'pause_charging', rest: ['1234-5'] }],
    ['everest_api/1/evse_manager_consumer/m1/m2e/enable_disable', { moduleId: 'm1', direction: 'm2e', name: 'enable_disable', rest: [] }],
    ['everest_api/1/evse_manager_consumer/m1/x2y/powermeter', undefined],
    ['everest_api/1/evse_manager_consumer/m1/e2m', undefined],
    ['everest_api/1/evse_manager_consumer/m1/e2m/', undefined],
    ['everest_api/1/evse_manager_consumer//e2m/powermeter', undefined],
    ['everest_api/1/evse_manager_consumerX/m1/e2m/powermeter', undefined],
    ['everest_api/1/other_api/m1/e2m/powermeter', undefined],
  ])('parses %s', (topic, expected) => {
    expect(topics.parse(topic)).toEqual(expected);
  });

  it('round-trips every address it builds', () => {
    const built = topics.replyTo('evse-7', 'resume_charging', 'r-1');
    expect(topics.parse(built)).toEqual({ moduleId: 'evse-7', direction: 'e2m', name: 'resume_charging', rest: ['r-1'] });
  });
});

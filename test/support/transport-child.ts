// A module process in miniature for crash tests: connects with a status topic, says "ready", waits to be killed.
import { pino } from 'pino';
import { MqttTransport } from '../../src/transport/mqtt-transport.js';

const [url, statusTopic] = process.argv.slice(2);
if (!url || !statusTopic) throw new Error('usage: transport-child <url> <statusTopic>');
const transport = new MqttTransport({ url, clientId: `child-${process.pid}`, statusTopic, keepaliveS: 2, logger: pino({ level: 'silent' }) });
transport.connected$.subscribe(() => process.stdout.write('ready\n'));
setInterval(() => undefined, 1000);

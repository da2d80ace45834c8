import { adminInputSuite } from './support/admin-input.suite.js';

adminInputSuite('fastify');

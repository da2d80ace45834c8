import { adminApiSuite } from './support/admin-api.suite.js';

adminApiSuite('fastify');

import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';
import { isUuid } from '../core/ids.js';

/**
 * Any hex UUID shape, not only RFC versions: traces continued from a W3C `traceparent` carry the
 * caller's 128-bit id, which has no version nibble.
 */
@Injectable()
export class ParseTraceIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (!isUuid(value)) throw new BadRequestException('traceId must be a UUID');
    return value.toLowerCase();
  }
}

/** The same shape check for a call's span id. */
@Injectable()
export class ParseSpanIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (!isUuid(value)) throw new BadRequestException('spanId must be a UUID');
    return value.toLowerCase();
  }
}

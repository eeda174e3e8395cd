import { notFound } from '../../lib/auth';

// Every other path and method: a JSON 404 that does not echo the URL.
export const GET = notFound;
export const POST = notFound;
export const PUT = notFound;
export const PATCH = notFound;
export const DELETE = notFound;

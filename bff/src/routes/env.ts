/** Typed context variables shared by every route. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** Status of an answer the proxy wrote straight to the Node response (for the request log). */
    sentStatus: number;
  };
}

/** Typed context variables shared by every route. */
export interface AppEnv {
  Variables: {
    requestId: string;
  };
}

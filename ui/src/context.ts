import { createContext } from "preact";
import type { Caller } from "./session";

/** The signed-in caller (workspace and role); pages hide write controls for viewers. */
export const CallerContext = createContext<Caller | null>(null);

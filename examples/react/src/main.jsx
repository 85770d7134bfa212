import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import Chat from "./Chat.jsx";

const root = document.getElementById("root");
createRoot(root).render(<StrictMode><Chat relay={root.dataset.relay} /></StrictMode>);

// Next needs a root layout; the bench serves route handlers only.
export default function RootLayout({ children }) {
  return children;
}

// A QR code as SVG cells (drawn by the page, so nothing is loaded and no inline style).
import qrcode from "qrcode-generator"

export const QrCode = ({ text, label }: { text: string; label: string }) => {
  const qr = qrcode(0, "M")
  qr.addData(text)
  qr.make()
  const n = qr.getModuleCount()
  let path = ""
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) if (qr.isDark(y, x)) path += `M${x + 4} ${y + 4}h1v1h-1z`
  }
  return (
    <svg class="qr" viewBox={`0 0 ${n + 8} ${n + 8}`} role="img" aria-label={label}>
      <rect width={n + 8} height={n + 8} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  )
}
